import path from 'node:path';
import type { Config } from '@keelson/config';
import { startEmbeddedPostgres } from '@keelson/db/embedded';
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

async function reachable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * DATABASE_URL when set; otherwise the embedded PostgreSQL, reusing it when `pnpm start` already runs
 * it (so `pnpm db:seed` works beside a running stack) and starting it otherwise.
 */
export async function resolveDatabase(config: Config, log: (line: string) => void): Promise<ResolvedDatabase> {
  if (config.database.url) return { url: config.database.url, embedded: false, stop: async () => {} };
  const { dir, port } = config.database.embedded;
  const url = `postgres://postgres:postgres@127.0.0.1:${port}/${EMBEDDED_DATABASE}`;
  if (await reachable(url)) return { url, embedded: false, stop: async () => {} };
  const server = await startEmbeddedPostgres({
    dir: path.resolve(repoRoot, dir),
    port,
    persistent: true,
    onLog: (line) => {
      if (/FATAL|PANIC/.test(line)) log(`postgres: ${line}`);
    },
  });
  await server.ensureDatabase(EMBEDDED_DATABASE);
  return { url: server.urlFor(EMBEDDED_DATABASE), embedded: true, dataDir: server.dataDir, stop: () => server.stop() };
}
