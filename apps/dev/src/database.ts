import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '@keelson/config';
import { startEmbeddedPostgres } from '@keelson/db/embedded';
import { describeDatabaseUrl } from '@keelson/runtime';
import pg from 'pg';

/** The repository root: `.data/` and relative paths in config are resolved against it. */
export const repoRoot = path.resolve(import.meta.dirname, '../../..');

export const EMBEDDED_DATABASE = 'keelson';

export interface ResolvedDatabase {
  url: string;
  /** Whether this process started the embedded server (and so must stop it). */
  embedded: boolean;
  /** The embedded server's data folder, when this process started it. */
  dataDir?: string;
  stop(): Promise<void>;
}

/** Connects once: `undefined` when the database answers, else the error (for a one-line explanation). */
async function probe(url: string): Promise<unknown> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    return undefined;
  } catch (err) {
    return err ?? new Error('connection failed');
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * DATABASE_URL when set (failing at once when it cannot be reached); otherwise the embedded PostgreSQL,
 * reusing it when `pnpm start` already runs it (so `pnpm db:seed` works beside a running stack) and
 * starting it otherwise.
 */
export async function resolveDatabase(config: Config, log: (line: string) => void): Promise<ResolvedDatabase> {
  if (config.database.url) {
    const err = await probe(config.database.url);
    if (err) throw err;
    log(`using DATABASE_URL (${describeDatabaseUrl(config.database.url)})`);
    return { url: config.database.url, embedded: false, stop: async () => {} };
  }
  const { dir, port } = config.database.embedded;
  const url = `postgres://postgres:postgres@127.0.0.1:${port}/${EMBEDDED_DATABASE}`;
  if (!(await probe(url))) {
    log(`using the embedded PostgreSQL already running on port ${port}`);
    return { url, embedded: false, stop: async () => {} };
  }
  const dataDir = path.resolve(repoRoot, dir);
  const shown = path.relative(repoRoot, dataDir).startsWith('..') ? dataDir : path.relative(repoRoot, dataDir);
  log(
    existsSync(path.join(dataDir, 'PG_VERSION'))
      ? `starting the embedded PostgreSQL (port ${port}, data in ${shown})...`
      : `creating the embedded PostgreSQL in ${shown} (first run only: a few seconds)...`,
  );
  const server = await startEmbeddedPostgres({
    dir: dataDir,
    port,
    persistent: true,
    onLog: (line) => {
      if (/FATAL|PANIC/.test(line)) log(`postgres: ${line}`);
    },
  });
  await server.ensureDatabase(EMBEDDED_DATABASE);
  log('embedded PostgreSQL ready');
  return { url: server.urlFor(EMBEDDED_DATABASE), embedded: true, dataDir: server.dataDir, stop: () => server.stop() };
}
