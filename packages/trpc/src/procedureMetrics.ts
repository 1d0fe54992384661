/**
 * Times every procedure call into `keelson_trpc_procedure_duration_seconds`. A middleware runs once per
 * call, so the calls of one HTTP batch are observed apart, each with its own code; the HTTP request
 * metric sees the batch as one request to `/trpc/:path`. For a subscription it times the set-up only.
 */
import type { ProcedureObservation } from '@keelson/metrics';
import type { Context } from './context.ts';

interface MiddlewareArgs<R> {
  ctx: Context;
  path: string;
  type: ProcedureObservation['type'];
  next: () => Promise<R>;
}

export async function procedureMetrics<R extends { ok: true } | { ok: false; error: { code: string } }>({
  ctx,
  path,
  type,
  next,
}: MiddlewareArgs<R>): Promise<R> {
  if (!ctx.metrics) return next();
  const start = performance.now();
  const result = await next();
  ctx.metrics.observeProcedure({
    procedure: path,
    type,
    code: result.ok ? 'ok' : result.error.code,
    seconds: (performance.now() - start) / 1000,
  });
  return result;
}
