/**
 * Tracing for tests: the production SDK and instrumentations, with every span kept in memory at once
 * (no batching) so a test can read them as soon as the work is done.
 */
import { AlwaysOnSampler, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { startTelemetry, type Telemetry } from './sdk.ts';

export interface TestTelemetry extends Telemetry {
  exporter: InMemorySpanExporter;
}

/** Call before anything imports `pg` or `fastify` (import the app with `await import()` afterwards). */
export function startTestTelemetry(serviceName = 'keelson-test'): TestTelemetry {
  const exporter = new InMemorySpanExporter();
  const telemetry = startTelemetry({
    serviceName,
    sampler: new AlwaysOnSampler(),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  return { exporter, shutdown: telemetry.shutdown };
}
