/**
 * Exemplars link a histogram bucket to one trace that fell in it. Only sampled traces are worth linking
 * (an unsampled one was never exported), and with tracing off there is no span at all: then no exemplar.
 */
import { isSpanContextValid, TraceFlags, trace } from '@opentelemetry/api';

export type ExemplarLabels = Record<string, string>;

const NONE: ExemplarLabels = {};

/** `{ trace_id }` of the active span when it is sampled, else none. */
export function activeTraceExemplar(): ExemplarLabels {
  const span = trace.getActiveSpan()?.spanContext();
  if (!span || !isSpanContextValid(span) || !(span.traceFlags & TraceFlags.SAMPLED)) return NONE;
  return { trace_id: span.traceId };
}

const TRACEPARENT = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-([\da-f]{2})$/;

/** `{ trace_id }` of a W3C traceparent (a job's, which its own span continues) when sampled, else none. */
export function traceparentExemplar(traceparent: string | undefined): ExemplarLabels {
  const match = traceparent ? TRACEPARENT.exec(traceparent) : null;
  if (!match?.[1] || !(Number.parseInt(match[2] ?? '0', 16) & TraceFlags.SAMPLED)) return NONE;
  if (/^0+$/.test(match[1])) return NONE;
  return { trace_id: match[1] };
}
