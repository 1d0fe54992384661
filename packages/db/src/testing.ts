/**
 * Test-database helpers (graphile-worker's and Vendure's pattern): one template database is migrated
 * once per test run, and every test file gets its own copy with `CREATE DATABASE ... TEMPLATE`, which
 * takes milliseconds. Files never see each other's rows, so they can run in parallel.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrate } from './migrate.ts';
import { createOrm } from './orm.ts';

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

async function admin<T>(adminUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface TemplateDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/**
 * Creates and migrates a uniquely named database on the server behind `adminUrl`: a template for test
 * files, or (with another `prefix`) a scratch database of its own.
 */
export async function createTemplateDatabase(adminUrl: string, prefix = 'keelson_tpl'): Promise<TemplateDatabase> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  await admin(adminUrl, (c) => c.query(`create database ${c.escapeIdentifier(name)}`));
  const url = withDatabase(adminUrl, name);
  const orm = await createOrm({ url, poolMax: 2 });
  try {
    await migrate(orm, { url });
  } finally {
    await orm.close(true);
  }
  return {
    name,
    url,
    drop: async () => {
      await admin(adminUrl, (c) => c.query(`drop database if exists ${c.escapeIdentifier(name)} with (force)`));
    },
  };
}

export interface TestDatabase extends AsyncDisposable {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A connection still open to a test database when its file dropped it: a pool, listener or client leaked. */
export interface LeakedConnection {
  applicationName: string;
  state: string | null;
  query: string;
}

/**
 * Connections to `name` other than ours, once those that are closing have had a moment to go (a backend
 * outlives its client's `end()` by a few milliseconds).
 */
async function openConnections(client: pg.Client, name: string): Promise<LeakedConnection[]> {
  const deadline = Date.now() + 1_000;
  for (;;) {
    const { rows } = await client.query<LeakedConnection>(
      `select application_name as "applicationName", state, left(query, 120) as query
       from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()`,
      [name],
    );
    if (!rows.length || Date.now() > deadline) return rows;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * A fresh, fully migrated database cloned from the template. Dropping it is the file's leak check: a
 * connection still open then (a pool not closed, a LISTEN connection left behind, a client not ended) is
 * reported to `onLeak` before the database goes (by force, so one leak never blocks the rest of the run).
 */
export async function createTestDatabase(opts: {
  adminUrl: string;
  template: string;
  onLeak?: (database: string, connections: LeakedConnection[]) => void;
}): Promise<TestDatabase> {
  const name = `keelson_test_${randomBytes(6).toString('hex')}`;
  await admin(opts.adminUrl, (c) =>
    c.query(`create database ${c.escapeIdentifier(name)} template ${c.escapeIdentifier(opts.template)}`),
  );
  let dropped = false;
  const drop = async () => {
    if (dropped) return;
    dropped = true;
    await admin(opts.adminUrl, async (c) => {
      if (opts.onLeak) {
        const open = await openConnections(c, name);
        if (open.length) opts.onLeak(name, open);
      }
      await c.query(`drop database if exists ${c.escapeIdentifier(name)} with (force)`);
    });
  };
  return { name, url: withDatabase(opts.adminUrl, name), drop, [Symbol.asyncDispose]: drop };
}
