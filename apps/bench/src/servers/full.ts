/** The real API, built exactly as `apps/api` builds it; only logging is off (see docs/benchmarks.md). */
import type { AddressInfo } from 'node:net';
import { buildApp } from '@keelson/api';
import { loadConfig } from '@keelson/config';
import { createOrm } from '@keelson/db';
import pino from 'pino';
import { announce, serverArgs } from './child.ts';

const { databaseUrl, poolMax } = serverArgs();
const config = loadConfig({
  NODE_ENV: 'production',
  LOG_LEVEL: 'silent',
  DATABASE_URL: databaseUrl,
  DATABASE_POOL_MAX: String(poolMax),
  PORT: '0',
  // The benchmark compares the database read path with a bare node:http + pg server; the in-process
  // catalogue cache would answer from memory instead and measure something else.
  CATALOG_CACHE_MAX_ENTRIES: '0',
});
const orm = await createOrm({
  url: databaseUrl,
  poolMax: config.database.poolMax,
  acquireTimeoutMs: config.database.acquireTimeoutMs,
  queryTimeoutMs: config.database.queryTimeoutMs,
  applicationName: 'keelson-api',
});
const app = await buildApp({ config, orm, logger: pino({ level: config.logLevel }) });
await app.listen({ host: '127.0.0.1', port: 0 });

announce((app.server.address() as AddressInfo).port, async () => {
  await app.close();
  await orm.close();
});
