/** Runs the API: reads config once, listens on HOST:PORT, and stops cleanly on SIGTERM/SIGINT. */
import { loadConfig, requireDatabaseUrl } from '@keelson/config';
import { createOrm } from '@keelson/db';
import { buildApp } from './app.ts';
import { createLogger } from './logger.ts';

const config = loadConfig();
const logger = createLogger({ level: config.logLevel, name: 'keelson-api' });
const orm = await createOrm({ url: requireDatabaseUrl(config), poolMax: config.database.poolMax });
const app = await buildApp({ config, orm, logger });

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) {
    logger.warn({ signal }, 'second signal: exiting now');
    process.exit(1);
  }
  stopping = true;
  logger.info({ signal }, 'shutting down');
  const timer = setTimeout(() => {
    logger.error('shutdown timed out: exiting');
    process.exit(1);
  }, config.shutdownTimeoutMs);
  timer.unref();
  try {
    await app.close();
    await orm.close();
    logger.info('stopped');
    process.exitCode = 0;
  } catch (err) {
    logger.error({ err }, 'error while shutting down');
    process.exitCode = 1;
  } finally {
    clearTimeout(timer);
  }
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

const address = await app.listen({ host: config.http.host, port: config.http.port });
logger.info({ address }, 'api listening');
