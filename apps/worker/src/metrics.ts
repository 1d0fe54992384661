import type { MikroORM } from '@keelson/db';
import { readQueueStats, taskNames } from '@keelson/jobs';
import { createWorkerMetrics, type WorkerMetrics } from '@keelson/metrics';
import type { Logger } from 'pino';

/**
 * The worker process's metrics: queue gauges read through the ORM's pool (one grouped query, cached),
 * every task of the contracts reported (a specialised replica still sees the whole queue), and the ORM's
 * pool in the pool gauge; `createWorker` adds graphile-worker's pool and the job events.
 */
export function workerMetrics(deps: { orm: MikroORM; logger: Logger; queueCacheMs?: number }): WorkerMetrics {
  const { orm, logger } = deps;
  const metrics = createWorkerMetrics({
    queue: {
      query: () => readQueueStats(orm.em.fork()),
      knownTasks: taskNames,
      onError: (err) => logger.warn({ err }, 'queue metrics query failed'),
      ...(deps.queueCacheMs !== undefined ? { cacheMs: deps.queueCacheMs } : {}),
    },
  });
  metrics.trackPool(() => orm.em.getConnection().getNativeClient());
  return metrics;
}
