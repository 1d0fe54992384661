/**
 * The OpenTelemetry SDK, loaded only when tracing is on (see register.ts). One function builds it for
 * the processes (OTLP exporter) and for tests (an in-memory exporter), so tests trace exactly what
 * production traces.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TracesSampler } from '@keelson/config';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { PinoInstrumentation } from '@opentelemetry/instrumentation-pino';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { LogRecordProcessor } from '@opentelemetry/sdk-logs';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  type Sampler,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace';
import { register as registerImportHooks } from 'import-in-the-middle/register-hooks.mjs';
import { ScrubbingSpanProcessor } from './scrub.ts';

/** Probes and scrapes run every few seconds and say nothing about a user's request. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);
/**
 * Query parameters whose values never reach a span's `url.query`: single-use tokens (old email links had
 * them in the query; new ones put them in the fragment, which is never sent), tRPC's GET `input` (what a
 * caller asked for, personal data included), and instrumentation-http's own defaults (signed URLs).
 */
const REDACTED_QUERY_PARAMS = [
  'token',
  'input',
  'sig',
  'Signature',
  'AWSAccessKeyId',
  'X-Goog-Signature',
  'X-Amz-Signature',
  'X-Amz-Credential',
  'X-Amz-Security-Token',
];

/**
 * ES modules are patched through import-in-the-middle's in-thread loader hook (Node ≥ 24.11), limited
 * to the modules an instrumentation patches: every app package imports `pg` as an ES module, which
 * require-in-the-middle alone never sees. CommonJS requires (fastify, graphile-worker's pg) go through
 * require-in-the-middle as usual.
 */
const HOOKED_MODULES = ['pg', 'pg-pool', 'fastify', 'pino', 'http', 'https', 'node:http', 'node:https'];

export function createSampler(kind: TracesSampler, ratio: number): Sampler {
  switch (kind) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
  }
}

function instrumentations() {
  return [
    new HttpInstrumentation({
      ignoreIncomingRequestHook: (req) => UNTRACED_PATHS.has((req.url ?? '').split('?')[0] ?? ''),
      redactedQueryParamsServer: REDACTED_QUERY_PARAMS,
    }),
    // No Fastify instrumentation: its `request` and `handler` spans repeated the HTTP server span for
    // every request, at a measured cost; the API names the HTTP span by its route itself
    // (apps/api/src/plugins/requestId.ts) and the procedure spans say what ran.
    // graphile-worker polls, heartbeats and listens on its own: only queries inside a request or a job
    // make spans, not a root trace per poll.
    new PgInstrumentation({ requireParentSpan: true }),
    // Every log line also goes out as an OTLP log record (to Loki through the collector in compose),
    // after pino's redaction: the JSON line is what it parses. The trace and span ids are our own
    // logger's fields already (@keelson/runtime), so its correlation stays off.
    new PinoInstrumentation({ disableLogCorrelation: true }),
  ];
}

/** `version` of the repository's package.json: what was deployed. */
function serviceVersion(): string {
  const root = new URL('../../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(root, 'utf8')) as { version?: string }).version ?? 'unknown';
}

export interface TelemetryOptions {
  serviceName: string;
  sampler: Sampler;
  /** Where finished spans go: a batching OTLP exporter in the processes, an in-memory one in tests. */
  spanProcessors: SpanProcessor[];
  /** Where log records go (OTLP in the processes); none: log lines go to stdout only. */
  logRecordProcessors?: LogRecordProcessor[];
}

export interface Telemetry {
  /** Flushes the spans still buffered and removes the SDK. */
  shutdown(): Promise<void>;
}

/** Hooks the instrumented modules and starts the SDK; call it before `pg` or `fastify` is imported. */
export function startTelemetry(opts: TelemetryOptions): Telemetry {
  registerImportHooks({ include: HOOKED_MODULES });
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      'service.name': opts.serviceName,
      'service.version': serviceVersion(),
      'service.instance.id': randomUUID(),
    }),
    // Host and process detectors read the environment and spawn nothing useful for us; keep the resource explicit.
    autoDetectResources: false,
    sampler: opts.sampler,
    // Scrubbing first: it changes the span before the others (and their exporters) see it ended.
    spanProcessors: [new ScrubbingSpanProcessor(), ...opts.spanProcessors],
    // Traces and logs. Left to itself the SDK would also export OTLP metrics: those are prom-client's
    // job (/metrics). Logs go to stdout as JSON lines in any case.
    metricReaders: [],
    logRecordProcessors: opts.logRecordProcessors ?? [],
    instrumentations: instrumentations(),
  });
  sdk.start();
  return { shutdown: () => sdk.shutdown() };
}
