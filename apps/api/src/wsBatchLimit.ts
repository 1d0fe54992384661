/**
 * TRPC_MAX_BATCH_SIZE over WebSocket. tRPC 11.22 (the version the workspace stays on, see
 * pnpm-workspace.yaml) applies `maxBatchSize` to HTTP batches only: one WebSocket frame holding 500 calls
 * would run all 500. A frame with more calls than that is answered here instead, call by call, with
 * BAD_REQUEST in the router's own error shape, and tRPC never sees it. tRPC 11.25 does the same itself:
 * drop this once the workspace is there.
 */
import { type AnyTRPCRouter, getTRPCErrorShape, TRPCError, transformTRPCResponse } from '@trpc/server';
import type { WebSocket } from 'ws';

/** Over this many times the limit, a frame's calls are not answered one by one: its socket is closed. */
const MAX_ANSWERED_FACTOR = 10;

/** A text frame's text; null for what tRPC would not read as JSON anyway. */
function frameText(data: unknown): string | null {
  if (typeof data === 'string') return data;
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data) && data.every((d) => Buffer.isBuffer(d))) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return null;
}

const isCall = (m: unknown): m is { id: string | number; method?: unknown } =>
  typeof m === 'object' &&
  m !== null &&
  'id' in m &&
  (typeof m.id === 'number' || typeof m.id === 'string') &&
  (m as { method?: unknown }).method !== 'subscription.stop';

/** Whether the frame was an oversized batch, now refused (then it must not reach tRPC). */
function refuse(socket: WebSocket, data: unknown, opts: { router: AnyTRPCRouter; maxBatchSize: number }): boolean {
  const text = frameText(data);
  // Each call takes at least two characters (`0,`): a shorter frame cannot be over the limit.
  if (text === null || text.length <= 2 * opts.maxBatchSize || !text.trimStart().startsWith('[')) return false;
  let calls: unknown;
  try {
    calls = JSON.parse(text);
  } catch {
    return false; // tRPC answers its own PARSE_ERROR
  }
  if (!Array.isArray(calls) || calls.length <= opts.maxBatchSize) return false;
  const config = opts.router._def._config;
  const error = new TRPCError({
    code: 'BAD_REQUEST',
    message: `Batch call exceeds maximum size (${opts.maxBatchSize})`,
  });
  const shape = getTRPCErrorShape({
    config,
    error,
    type: 'unknown',
    path: undefined,
    input: undefined,
    ctx: undefined,
  });
  const ids = [...new Set(calls.filter(isCall).map((c) => c.id))];
  // Each refused call is answered, so that a client's pending calls end; but a frame of thousands of
  // calls is no client's batch, and answering each would make one small frame cost megabytes and
  // seconds: that socket is closed instead (its client's calls then fail as on any lost connection).
  if (ids.length > MAX_ANSWERED_FACTOR * opts.maxBatchSize) {
    socket.close(1008, 'batch too large');
    return true;
  }
  const answer = (id: string | number | null) => JSON.stringify(transformTRPCResponse(config, { id, error: shape }));
  for (const id of ids.length > 0 ? ids : [null]) socket.send(answer(id));
  return true;
}

/** Refuses this socket's batches of more than `maxBatchSize` calls before tRPC reads them. */
export function limitWebSocketBatches(socket: WebSocket, opts: { router: AnyTRPCRouter; maxBatchSize: number }): void {
  // tRPC listens with `socket.on('message')`; a frame stopped at `emit` reaches none of its listeners.
  const emit = socket.emit.bind(socket);
  socket.emit = ((event: string | symbol, ...args: unknown[]) => {
    if (event === 'message' && refuse(socket, args[0], opts)) return true;
    return emit(event, ...args);
  }) as WebSocket['emit'];
}
