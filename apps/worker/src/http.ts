/**
 * The worker's own small HTTP server (WORKER_HTTP_HOST:WORKER_HTTP_PORT), for orchestrators and
 * Prometheus: `/healthz` (the process answers), `/readyz` (database reachable, every migration applied,
 * the runner started and not stopping) and `/metrics`. Built here, listened to by `main.ts`.
 */
import { type MikroORM, readinessProbe } from '@keelson/db';
import Fastify from 'fastify';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';

export interface WorkerHttpDeps {
  orm: MikroORM;
  logger: Logger;
  /** The runner has started and is not stopping (`KeelsonWorker.isRunning`). */
  isRunning: () => boolean;
  /**
   * Where `/metrics` reads from. Default: a registry of its own with prom-client's default process
   * metrics (a registry per server, not prom-client's global one, so tests can build several).
   */
  registry?: Registry;
}

/** A registry holding prom-client's default process metrics (CPU, memory, event loop lag, GC). */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

export function createWorkerHttp(deps: WorkerHttpDeps) {
  const { orm } = deps;
  const registry = deps.registry ?? createMetricsRegistry();
  const app = Fastify({ loggerInstance: deps.logger, forceCloseConnections: true });
  // Probes and scrapes every few seconds would drown the job lines; failures are still logged.
  const quiet = { logLevel: 'warn' } as const;

  app.get('/healthz', quiet, async () => ({ status: 'ok' }));

  const readiness = readinessProbe(orm);
  app.get('/readyz', quiet, async (_req, reply) => {
    if (!deps.isRunning()) return reply.code(503).send({ status: 'not running' });
    const { ready, body, error } = await readiness();
    if (error) reply.log.warn({ err: error }, 'readiness check failed');
    return ready ? body : reply.code(503).send(body);
  });

  app.get('/metrics', quiet, async (_req, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });

  return app;
}

export type WorkerHttp = ReturnType<typeof createWorkerHttp>;
