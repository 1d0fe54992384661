import type { Database, MikroORM } from '@keelson/db';
import { tasks } from '@keelson/jobs';
import { createWorkerMetrics, QUEUE_STATS_SQL, type WorkerMetrics } from '@keelson/metrics';
import { sql } from 'kysely';
import type { Logger } from 'pino';

/**
 * The worker process's metrics: queue gauges read through the ORM's pool (one grouped query, cached),
 * every task of the contracts reported (a specialised replica still sees the whole queue), and the ORM's
 * pool in the pool gauge; `createWorker` adds graphile-worker's pool and the job events.
 */
export function workerMetrics(deps: { orm: MikroORM; logger: Logger; queueCacheMs?: number }): WorkerMetrics {
  const { orm, logger } = deps;
  const metrics = createWorkerMetrics({
    // A constant of @keelson/metrics with no parameters: raw SQL text by design, never user input.
    queryQueue: async () =>
      (await sql.raw<Record<string, unknown>>(QUEUE_STATS_SQL).execute(orm.em.getKysely<Database>())).rows,
    knownTasks: Object.keys(tasks),
    onQueueError: (err) => logger.warn({ err }, 'queue metrics query failed'),
    ...(deps.queueCacheMs !== undefined ? { queueCacheMs: deps.queueCacheMs } : {}),
  });
  metrics.trackPool(() => orm.em.getConnection().getNativeClient());
  return metrics;
}
