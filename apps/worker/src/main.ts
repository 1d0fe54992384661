/**
 * Runs the worker process: `pnpm start:worker`. graphile-worker migrates its own schema at start; the
 * health and metrics server listens first, so `/healthz` answers while the runner starts.
 */
import { loadConfig, requireDatabaseUrl } from '@keelson/config';
import { createOrm } from '@keelson/db';
import { createLogger, exitGracefullyOnSignals, failStartup } from '@keelson/runtime';
import { createWorkerHttp } from './http.ts';
import { workerMetrics } from './metrics.ts';
import { createWorker } from './worker.ts';

const config = loadConfig();
const logger = createLogger({ name: 'keelson-worker', level: config.logLevel });
const databaseUrl = requireDatabaseUrl(config);
const orm = await createOrm({
  url: databaseUrl,
  poolMax: config.database.poolMax,
  acquireTimeoutMs: config.database.acquireTimeoutMs,
  queryTimeoutMs: config.database.queryTimeoutMs,
  preparedStatements: config.database.preparedStatements,
  applicationName: 'keelson-worker',
});
const metrics = workerMetrics({ orm, logger });
const worker = createWorker({ config, orm, logger, databaseUrl, metrics });
const http = createWorkerHttp({
  orm,
  logger,
  databaseUrl,
  acquireTimeoutMs: config.database.acquireTimeoutMs,
  isRunning: worker.isRunning,
  metrics,
  metricsToken: config.metrics.token,
});

exitGracefullyOnSignals({
  logger,
  timeoutMs: config.shutdownTimeoutMs,
  stop: async () => {
    // Not ready from the first signal on (isRunning turns false), still answering until the end.
    await worker.stop();
    await http.close();
    await orm.close();
  },
  forceStop: () => worker.interrupt('second signal'),
});

// A taken port or an unreachable database is said in one line, not a stack trace.
const startupFailed = failStartup(logger, { ports: { [config.worker.http.port]: 'WORKER_HTTP_PORT' }, databaseUrl });
const address = await http
  .listen({ host: config.worker.http.host, port: config.worker.http.port })
  .catch(startupFailed);
logger.info({ address }, 'worker http listening');
await worker.start().catch(startupFailed);
worker.done.catch((err: unknown) => {
  logger.fatal({ err }, 'worker crashed');
  process.exit(1);
});
