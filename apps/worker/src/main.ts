/** Runs the worker process: `pnpm start:worker`. Migrates graphile-worker's schema at start. */
import { loadConfig, requireDatabaseUrl } from '@keelson/config';
import { createOrm } from '@keelson/db';
import { createLogger, exitGracefullyOnSignals } from '@keelson/runtime';
import { createWorker } from './worker.ts';

const config = loadConfig();
const logger = createLogger({ name: 'keelson-worker', level: config.logLevel });
const databaseUrl = requireDatabaseUrl(config);
const orm = await createOrm({ url: databaseUrl, poolMax: config.database.poolMax });
const worker = createWorker({ config, orm, logger, databaseUrl });

exitGracefullyOnSignals({
  logger,
  timeoutMs: config.shutdownTimeoutMs,
  stop: async () => {
    await worker.stop();
    await orm.close();
  },
});

// graphile-worker migrates its own schema when the runner starts.
await worker.start();
worker.done.catch((err: unknown) => {
  logger.fatal({ err }, 'worker crashed');
  process.exit(1);
});
