/**
 * A scratch database for one run: on the server behind DATABASE_URL, or on a throw-away embedded
 * PostgreSQL. Everything created here is handed to `cleanup`, which undoes it in reverse order.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createOrm, migrate, seed } from '@keelson/db';
import { startEmbeddedPostgres } from '@keelson/db/embedded';
import pg from 'pg';

export interface BenchDatabase {
  url: string;
  /** Ids of the active products, which the load generator cycles over. */
  productIds: string[];
  /** E.g. `PostgreSQL 18.4 (embedded)`. */
  server: string;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** One statement on its own connection (set-up and checks, never the measured path). */
export async function query<R extends pg.QueryResultRow>(url: string, text: string): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text)).rows;
  } finally {
    await client.end();
  }
}

async function startEmbedded(cleanup: AsyncDisposableStack, log: (line: string) => void): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'keelson-bench-pg-'));
  // Run as root, PostgreSQL runs as the `postgres` user; a folder it can enter keeps the data inside `dir`
  // (see usableDataDir), so removing `dir` removes everything even when PostgreSQL did not stop cleanly.
  await chmod(dir, 0o755);
  cleanup.defer(() => rm(dir, { recursive: true, force: true }));
  const port = await freePort();
  log(`starting embedded PostgreSQL on port ${port}...`);
  const embedded = await startEmbeddedPostgres({ dir: path.join(dir, 'data'), port, persistent: false });
  // stop() waits for PostgreSQL's exit event, forever if it already exited (Ctrl-C reaches it directly).
  cleanup.defer(async () => {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([embedded.stop(), new Promise<void>((resolve) => (timer = setTimeout(resolve, 10_000)))]);
    clearTimeout(timer);
  });
  return embedded.adminUrl;
}

export async function openDatabase(
  databaseUrl: string | undefined,
  cleanup: AsyncDisposableStack,
  log: (line: string) => void,
): Promise<BenchDatabase> {
  const adminUrl = databaseUrl ?? (await startEmbedded(cleanup, log));

  // Named for the benchmark, so that a database left behind by a killed run is recognisable.
  const name = `keelson_bench_${randomBytes(5).toString('hex')}`;
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  await query(adminUrl, `create database "${name}"`);
  // An embedded server is deleted whole when it stops.
  if (databaseUrl) {
    cleanup.defer(async () => {
      await query(adminUrl, `drop database if exists "${name}" with (force)`);
    });
  }

  log(`migrating and seeding ${name}...`);
  const orm = await createOrm({ url: url.toString(), poolMax: 2 });
  try {
    await migrate(orm, { url: url.toString() });
    await seed(orm.em.fork(), {});
  } finally {
    await orm.close(true);
  }

  const products = await query<{ id: string }>(
    url.toString(),
    'select id from product where archived_at is null order by id',
  );
  const [version] = await query<{ version: string }>(url.toString(), 'select version()');
  const server = `${version?.version.split(' on ')[0] ?? 'PostgreSQL ?'}${databaseUrl ? '' : ' (embedded)'}`;
  return { url: url.toString(), productIds: products.map((p) => p.id), server };
}
