/**
 * The worker's own small HTTP server (WORKER_HTTP_HOST:WORKER_HTTP_PORT), for orchestrators and
 * Prometheus: `/healthz` (the process answers), `/readyz` (database reachable, every migration applied,
 * the runner started and not stopping) and `/metrics` (behind METRICS_TOKEN when set; probes never carry
 * a token). A private listener: the worker has no public one. Built here, listened to by `main.ts`.
 */
import { type MikroORM, readinessProbe } from '@keelson/db';
import { metricsRoute, type ProcessMetrics } from '@keelson/metrics';
import Fastify from 'fastify';
import type { Logger } from 'pino';

export interface WorkerHttpDeps {
  orm: MikroORM;
  /** What `/readyz` pings, on a connection of its own. */
  databaseUrl: string;
  /** DATABASE_ACQUIRE_TIMEOUT_MS: waiters and no connection given back this long is a stuck pool. */
  acquireTimeoutMs: number;
  logger: Logger;
  /** The runner has started and is not stopping (`KeelsonWorker.isRunning`). */
  isRunning: () => boolean;
  /** What `/metrics` serves: the worker's metrics (`createWorkerMetrics`, shared with `createWorker`). */
  metrics: ProcessMetrics;
  /** METRICS_TOKEN (config `metrics.token`): the bearer token `/metrics` requires; null: none. */
  metricsToken: string | null;
}

export function createWorkerHttp(deps: WorkerHttpDeps) {
  const { orm } = deps;
  const app = Fastify({ loggerInstance: deps.logger, forceCloseConnections: true });
  // Probes and scrapes every few seconds would drown the job lines; failures are still logged.
  const quiet = { logLevel: 'warn' } as const;

  app.get('/healthz', quiet, async () => ({ status: 'ok' }));

  const readiness = readinessProbe(orm, { url: deps.databaseUrl, stuckAfterMs: deps.acquireTimeoutMs });
  app.addHook('onClose', () => readiness.close());
  app.get('/readyz', quiet, async (_req, reply) => {
    if (!deps.isRunning()) return reply.code(503).send({ status: 'not running' });
    const { ready, body, error } = await readiness.check();
    if (error) reply.log.warn({ err: error }, 'readiness check failed');
    return ready ? body : reply.code(503).send(body);
  });

  app.register(metricsRoute, { metrics: deps.metrics, token: deps.metricsToken });

  return app;
}

export type WorkerHttp = ReturnType<typeof createWorkerHttp>;
