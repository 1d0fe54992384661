/**
 * Runs the API: reads config once, listens on HOST:PORT (and METRICS_HOST:METRICS_PORT for Prometheus),
 * and stops cleanly on SIGTERM/SIGINT.
 */
import { loadConfig, requireDatabaseUrl } from '@keelson/config';
import { createOrm } from '@keelson/db';
import { createLogger, exitGracefullyOnSignals } from '@keelson/runtime';
import { buildApp } from './app.ts';

const config = loadConfig();
const logger = createLogger({ level: config.logLevel, name: 'keelson-api' });
const orm = await createOrm({ url: requireDatabaseUrl(config), poolMax: config.database.poolMax });
const app = await buildApp({ config, orm, logger });

exitGracefullyOnSignals({
  logger,
  timeoutMs: config.shutdownTimeoutMs,
  stop: async () => {
    // Stops accepting, lets in-flight requests finish, closes WebSockets; then the pool.
    await app.close();
    await orm.close();
  },
});

// Metrics first: a taken port stops start-up before the public listener opens.
const metricsAddress = await app.metricsServer.listen({ host: config.metrics.host, port: config.metrics.port });
const address = await app.listen({ host: config.http.host, port: config.http.port });
logger.info({ address, metricsAddress }, 'api listening');
