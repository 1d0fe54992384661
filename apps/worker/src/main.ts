/** Runs the worker process: `pnpm start:worker`. Migrates graphile-worker's schema at start. */
import { loadConfig, requireDatabaseUrl } from '@keelson/config';
import { createOrm } from '@keelson/db';
import pino from 'pino';
import { createWorker } from './worker.ts';

const config = loadConfig();
const logger = pino({ name: 'keelson-worker', level: config.logLevel });
const databaseUrl = requireDatabaseUrl(config);
const orm = await createOrm({ url: databaseUrl, poolMax: config.database.poolMax });
const worker = createWorker({ config, orm, logger, databaseUrl });

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) {
    logger.warn({ signal }, 'second signal: exiting now; running jobs will be retried');
    process.exit(1);
  }
  stopping = true;
  logger.info({ signal }, 'shutting down: finishing running jobs');
  try {
    await worker.stop();
    await orm.close();
    logger.info('stopped');
    process.exitCode = 0;
  } catch (err) {
    logger.error({ err }, 'error while shutting down');
    process.exitCode = 1;
  }
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

// graphile-worker migrates its own schema when the runner starts.
await worker.start();
worker.done.catch((err: unknown) => {
  logger.fatal({ err }, 'worker crashed');
  process.exit(1);
});
