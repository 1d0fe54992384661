/**
 * The database helpers, and only them: what a test of `@keelson/db` (or any package below the API)
 * needs, with nothing that starts the API or the worker. `pnpm check` keeps this module and the ones
 * it uses from importing anything of Keelson's above `@keelson/db`.
 */
import { createOrm, type MikroORM } from '@keelson/db';
import { createTestDatabase, type TestDatabase } from '@keelson/db/testing';
import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';

export { eventually, freePort } from './processes.ts';
export { type TcpProxy, tcpProxy } from './tcpProxy.ts';

/**
 * A migrated database of this test file's own, cloned from the run's template. When it is dropped, any
 * connection still open to it is a leak of the test or the code under test (a pool, listener or client
 * never closed): it is printed, and fails the run under KEELSON_LEAK_CHECK=fail.
 */
export function testDatabase(): Promise<TestDatabase> {
  return createTestDatabase({
    adminUrl: inject('adminUrl'),
    template: inject('templateDatabase'),
    onLeak: (database, connections) => {
      const list = connections.map((c) => `${c.applicationName || '(no name)'} [${c.state}] ${c.query}`).join('; ');
      const message = `leak check: ${connections.length} connection(s) still open to ${database} at drop: ${list}`;
      if (process.env.KEELSON_LEAK_CHECK === 'fail') throw new Error(message);
      console.warn(message);
    },
  });
}

/** Runs SQL directly, outside the ORM: for assertions on what actually reached the database. */
export async function sql<R extends pg.QueryResultRow = Record<string, unknown>>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/**
 * Locks one row from a connection of its own until `release`: whatever updates it (a job, a request)
 * waits meanwhile, so a test can hold it in flight as long as it needs.
 */
export async function lockRow(
  url: string,
  row: { table: 'product' | 'app_user'; id: string },
): Promise<{ release(): Promise<void> }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('begin');
  await client.query(`select 1 from ${row.table} where id = $1 for update`, [row.id]);
  return {
    release: async () => {
      await client.query('rollback');
      await client.end();
    },
  };
}

/**
 * A database and an ORM of this test file's own, for the file's lifetime (vitest hooks). Read the
 * properties inside tests, not at module level: they are set in `beforeAll`.
 */
export function useTestOrm(opts: { poolMax?: number } = {}): { readonly db: TestDatabase; readonly orm: MikroORM } {
  const state = {} as { db: TestDatabase; orm: MikroORM };
  beforeAll(async () => {
    state.db = await testDatabase();
    state.orm = await createOrm({ url: state.db.url, poolMax: opts.poolMax ?? 4 });
  });
  afterAll(async () => {
    await state.orm?.close(true);
    await state.db?.drop();
  });
  return state;
}
