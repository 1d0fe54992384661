/**
 * `node --import @keelson/telemetry/register apps/api/src/main.ts`: starts tracing before the app
 * imports anything, which instrumentation needs (it patches `pg`, `http` and `fastify` as they load).
 * Without OTEL_EXPORTER_OTLP_ENDPOINT it returns at once and the SDK is never even imported: the
 * `@opentelemetry/api` calls in the app then stay no-ops.
 */
import path from 'node:path';
import { loadTelemetryConfig } from '@keelson/config';

const config = loadTelemetryConfig();

if (config.endpoint) {
  const { BatchSpanProcessor } = await import('@opentelemetry/sdk-trace');
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
  const { OTLPLogExporter } = await import('@opentelemetry/exporter-logs-otlp-proto');
  const { BatchLogRecordProcessor } = await import('@opentelemetry/sdk-logs');
  const { createSampler, startTelemetry } = await import('./sdk.ts');
  const telemetry = startTelemetry({
    serviceName: config.serviceName ?? serviceNameOfEntryPoint(process.argv[1]),
    sampler: createSampler(config.sampler, config.samplerRatio),
    spanProcessors: [
      new BatchSpanProcessor({
        // Short timeouts: a collector that is down must not hold a stopping process for the SDK's default
        // 10 s export retries (measured: `pnpm start` took ~10 s to stop instead of ~2 s).
        exporter: new OTLPTraceExporter({
          url: `${config.endpoint.replace(/\/+$/, '')}/v1/traces`,
          timeoutMillis: 2_000,
        }),
        exportTimeoutMillis: 2_000,
      }),
    ],
    logRecordProcessors: [
      new BatchLogRecordProcessor({
        exporter: new OTLPLogExporter({ url: `${config.endpoint.replace(/\/+$/, '')}/v1/logs`, timeoutMillis: 2_000 }),
        exportTimeoutMillis: 2_000,
      }),
    ],
  });
  // The apps exit on their own after a graceful stop; this sends the last spans on the way out. An
  // unreachable collector costs those spans, never the exit code.
  process.once('beforeExit', () => {
    telemetry.shutdown().catch((err: unknown) => console.error('telemetry: could not flush the last spans:', err));
  });
}

/** `apps/worker/src/main.ts` → `keelson-worker`. */
function serviceNameOfEntryPoint(entry: string | undefined): string {
  const app = entry?.split(path.sep).at(-3);
  return app ? `keelson-${app}` : 'keelson';
}
