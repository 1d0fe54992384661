/**
 * One span per procedure call, a child of the HTTP request's span (or of nothing, over WebSocket): an
 * HTTP batch of three calls shows as three procedure spans under one request. Only `@opentelemetry/api`
 * is used, which does nothing until the SDK is started (`@keelson/telemetry/register`).
 */
import { SpanStatusCode, trace } from '@opentelemetry/api';
import type { TRPCError } from '@trpc/server';

const tracer = trace.getTracer('@keelson/trpc');

type CallResult = { ok: true } | { ok: false; error: TRPCError };

/** Runs `next` (the rest of the procedure) inside a span named `trpc <path>`. */
export function traceProcedure<R extends CallResult>(
  call: { path: string; type: 'query' | 'mutation' | 'subscription' },
  next: () => Promise<R>,
): Promise<R> {
  const attributes = { 'rpc.system': 'trpc', 'rpc.method': call.path, 'rpc.trpc.type': call.type };
  return tracer.startActiveSpan(`trpc ${call.path}`, { attributes }, async (span) => {
    try {
      const result = await next();
      if (!result.ok) {
        span.setAttribute('rpc.trpc.error_code', result.error.code);
        // A client's mistake (NOT_FOUND, BAD_REQUEST) is still a failed call; the code tells them apart.
        span.setStatus({ code: SpanStatusCode.ERROR, message: result.error.message });
        if (result.error.code === 'INTERNAL_SERVER_ERROR') span.recordException(result.error.cause ?? result.error);
      }
      return result;
    } finally {
      span.end();
    }
  });
}

/** Marks the current procedure's span with the signed-in user. */
export function setSpanUser(userId: string): void {
  trace.getActiveSpan()?.setAttribute('enduser.id', userId);
}
