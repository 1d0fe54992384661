/**
 * The per-file leak check: dropping a test database reports every connection still open to it (what a
 * pool, LISTEN connection or client the file forgot to close looks like), and drops it all the same.
 */
import { createTestDatabase, type LeakedConnection } from '@keelson/db/testing';
import { sql } from '@keelson/testing/database';
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';

describe('test database leak check', () => {
  it('reports a client left open at drop, then drops the database anyway', async () => {
    const leaks: { database: string; connections: LeakedConnection[] }[] = [];
    const db = await createTestDatabase({
      adminUrl: inject('adminUrl'),
      template: inject('templateDatabase'),
      onLeak: (database, connections) => leaks.push({ database, connections }),
    });
    const leaky = new pg.Client({ connectionString: db.url, application_name: 'forgotten-client' });
    await leaky.connect();
    leaky.on('error', () => {}); // the forced drop terminates it
    await db.drop();
    expect(leaks).toEqual([
      { database: db.name, connections: [expect.objectContaining({ applicationName: 'forgotten-client' })] },
    ]);
    const [row] = await sql<{ n: number }>(
      inject('adminUrl'),
      'select count(*)::int as n from pg_database where datname = $1',
      [db.name],
    );
    expect(row?.n).toBe(0);
  });

  it('reports nothing when everything was closed', async () => {
    const leaks: unknown[] = [];
    const db = await createTestDatabase({
      adminUrl: inject('adminUrl'),
      template: inject('templateDatabase'),
      onLeak: (...args) => leaks.push(args),
    });
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.end();
    await db.drop();
    expect(leaks).toEqual([]);
  });
});
