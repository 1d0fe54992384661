/**
 * Runs the API: reads config once, listens on HOST:PORT (and METRICS_HOST:METRICS_PORT for Prometheus),
 * and stops cleanly on SIGTERM/SIGINT.
 */
import { loadConfig, requireDatabaseUrl } from '@keelson/config';
import { createOrm, poolSettled } from '@keelson/db';
import { createLogger, exitGracefullyOnSignals, failStartup } from '@keelson/runtime';
import { buildApp } from './app.ts';

const config = loadConfig();
const logger = createLogger({ level: config.logLevel, name: 'keelson-api' });
// A taken port or an unreachable database is said in one line, not a stack trace.
const startupFailed = failStartup(logger, {
  ports: { [config.http.port]: 'PORT', [config.metrics.port]: 'METRICS_PORT' },
  databaseUrl: config.database.url ?? undefined,
});
const orm = await createOrm({
  url: requireDatabaseUrl(config),
  poolMax: config.database.poolMax,
  acquireTimeoutMs: config.database.acquireTimeoutMs,
  queryTimeoutMs: config.database.queryTimeoutMs,
  preparedStatements: config.database.preparedStatements,
  applicationName: 'keelson-api',
});
const app = await buildApp({ config, orm, logger });

exitGracefullyOnSignals({
  logger,
  timeoutMs: config.shutdownTimeoutMs,
  stop: async () => {
    const started = Date.now();
    // Unready, then stop accepting and let in-flight requests finish (see plugins/gracefulShutdown.ts).
    const { cut } = await app.stop();
    // A request cut after the grace may still be running its queries: the pool closes once they end.
    const left = config.shutdownTimeoutMs - (Date.now() - started) - 500;
    const pool = await orm.em.getConnection().getNativeClient();
    if (!(await poolSettled(pool, Math.max(0, left)))) logger.warn('closing the pool with queries still running');
    await orm.close();
    logger.info({ ms: Date.now() - started, cut }, 'api stopped');
  },
});

// Metrics first: a taken port stops start-up before the public listener opens. Listening starts the
// realtime hub, the first use of the database.
const metricsAddress = await app.metricsServer
  .listen({ host: config.metrics.host, port: config.metrics.port })
  .catch(startupFailed);
const address = await app.listen({ host: config.http.host, port: config.http.port }).catch(startupFailed);
logger.info({ address, metricsAddress }, 'api listening');
