/**
 * Prometheus metrics of the API and the worker: one registry per process object (no global registry),
 * with prom-client's default process metrics, scraped through `metricsRoute` on a private listener.
 * Domain packages never import this: the transport layer (tRPC context, task deps) and small callbacks
 * carry the few business counters.
 */
export {
  type ApiMetrics,
  createApiMetrics,
  type HttpObservation,
  type ProcedureObservation,
  UNMATCHED_ROUTE,
} from './api.ts';
export { activeTraceExemplar, type ExemplarLabels, traceparentExemplar } from './exemplars.ts';
export { bearerTokenMatches, type MetricsRouteOptions, metricsRoute } from './metricsRoute.ts';
export type { QueueGaugeOptions, QueueStats } from './queue.ts';
export { type PoolCounts, type PoolSource, type ProcessMetrics, type Scrape, wantsOpenMetrics } from './registry.ts';
export { createWorkerMetrics, type JobInfo, type WorkerMetrics, type WorkerMetricsOptions } from './worker.ts';
