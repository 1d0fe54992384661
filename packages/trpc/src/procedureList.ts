import type { AnyTRPCRouter } from '@trpc/server';
import { trpcCodeOfStatus } from './trpc.ts';

export interface ProcedureInfo {
  path: string;
  type: 'query' | 'mutation' | 'subscription';
}

/** A router's procedures by path, sorted: the API's index page and its zero-initialised metrics read it. */
export function procedureList(router: AnyTRPCRouter): ProcedureInfo[] {
  return Object.entries(router._def.procedures as Record<string, { _def: { type: ProcedureInfo['type'] } }>)
    .map(([path, p]) => ({ path, type: p._def.type }))
    .sort((a, b) => a.path.localeCompare(b.path));
}

/**
 * Every `code` label a procedure call can end with: `ok`, or the tRPC code of a catalogue status (each
 * AppError, validation, and INTERNAL_SERVER_ERROR for anything unexpected).
 */
export const PROCEDURE_RESULT_CODES: readonly string[] = ['ok', ...new Set(Object.values(trpcCodeOfStatus))];
