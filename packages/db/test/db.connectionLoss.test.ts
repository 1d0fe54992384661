import { createOrm, createPgPool, isDatabaseUnavailable, readinessProbe } from '@keelson/db';
import { eventually, freePort, sql, tcpProxy, testDatabase } from '@keelson/testing/database';
import type { Pool } from 'pg';
import { describe, expect, it } from 'vitest';

/** The pool's own counters: what `keelson_db_pool_connections` reports. */
function poolState(pool: Pool) {
  return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount };
}

async function killOwnConnections(url: string, database: string): Promise<number> {
  const rows = await sql<{ pid: number }>(
    url,
    `select pg_terminate_backend(pid) as killed, pid from pg_stat_activity
      where datname = $1 and pid <> pg_backend_pid() and backend_type = 'client backend'`,
    [database],
  );
  return rows.length;
}

describe('connection loss', () => {
  it('gives back the slot of every transaction whose connection is killed, at any step', async () => {
    await using db = await testDatabase();
    const orm = await createOrm({ url: db.url, poolMax: 4 });
    try {
      const pool = (await orm.em.getConnection().getNativeClient()) as Pool;
      // Twelve transactions on a pool of four, killed in the middle of a query, between two queries and
      // while committing: every step at which Kysely holds the connection. Before the fix, a killed
      // transaction's failed rollback kept its pooled client "checked out" forever.
      for (let round = 0; round < 3; round++) {
        const txs = Array.from({ length: 4 }, (_, i) =>
          orm.em.fork().transactional(async (tx) => {
            const conn = tx.getConnection();
            const ctx = tx.getTransactionContext();
            if (i % 2 === 0) await conn.execute('select pg_sleep(5)', [], 'all', ctx);
            else {
              await conn.execute('select 1', [], 'all', ctx);
              await new Promise((r) => setTimeout(r, 400));
              await conn.execute('select 2', [], 'all', ctx);
            }
          }),
        );
        const outcomes = Promise.allSettled(txs);
        await eventually(async () => pool.totalCount === 4 && pool.idleCount === 0);
        await new Promise((r) => setTimeout(r, 100));
        expect(await killOwnConnections(db.url, db.name)).toBeGreaterThan(0);
        expect((await outcomes).map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected']);
        await eventually(async () => pool.waitingCount === 0 && pool.totalCount === pool.idleCount, 3_000).catch(() => {
          throw new Error(`pool still holds connections: ${JSON.stringify(poolState(pool))}`);
        });
      }
      // The pool still works at full width.
      const results = await Promise.all(
        Array.from({ length: 8 }, () => orm.em.getConnection().execute<{ ok: number }[]>('select 1 as ok')),
      );
      expect(results.flat()).toHaveLength(8);
      expect(poolState(pool).waiting).toBe(0);
    } finally {
      await orm.close(true);
    }
  });

  it("tells an outage (killed, refused, no connection in time) from a bug, through MikroORM's wrapping", async () => {
    await using db = await testDatabase();
    const orm = await createOrm({ url: db.url, poolMax: 1, acquireTimeoutMs: 200 });
    const conn = orm.em.getConnection();
    try {
      const killed = conn.execute('select pg_sleep(5)').catch((e: unknown) => e);
      await eventually(
        async () =>
          (
            await sql(
              db.url,
              `select 1 from pg_stat_activity where datname = current_database() and query = 'select pg_sleep(5)'`,
            )
          ).length > 0,
      );
      await sql(
        db.url,
        `select pg_terminate_backend(pid) from pg_stat_activity
         where datname = current_database() and query = 'select pg_sleep(5)'`,
      );
      expect(isDatabaseUnavailable(await killed)).toBe(true);
      // pg learns that the socket closed a moment after the query's error: wait until the pool let it go.
      const pool = await conn.getNativeClient();
      await eventually(async () => pool.totalCount === 0);

      const busy = conn.execute('select pg_sleep(0.5)');
      const timedOut = await conn.execute('select 1').catch((e: unknown) => e);
      await busy;
      expect(isDatabaseUnavailable(timedOut)).toBe(true);

      const syntax = await conn.execute('select from where').catch((e: unknown) => e);
      const duplicate = await conn
        .execute(`insert into app_user (id, email, name, role, created_at, updated_at)
                  select gen_random_uuid(), 'same@shop.test', 'x', 'customer', now(), now() from generate_series(1, 2)`)
        .catch((e: unknown) => e);
      expect([
        isDatabaseUnavailable(syntax),
        isDatabaseUnavailable(duplicate),
        isDatabaseUnavailable(new Error('x')),
        // A protocol violation is a bug of ours (too many bind parameters), not an outage.
        isDatabaseUnavailable(Object.assign(new Error('bind message has 4464 parameter formats'), { code: '08P01' })),
      ]).toEqual([false, false, false, false]);
    } finally {
      await orm.close(true);
    }
    const nowhere = createPgPool({
      url: `postgres://postgres@127.0.0.1:${await freePort()}/postgres`,
      max: 1,
      applicationName: 'keelson-test',
      acquireTimeoutMs: 1_000,
      onError: () => {},
    });
    const refused = await nowhere.query('select 1').catch((e: unknown) => e);
    await nowhere.end();
    expect(isDatabaseUnavailable(refused)).toBe(true);
    // Another service's outage is not the database's: a refused fetch carries ECONNREFUSED as its cause.
    const otherService = await fetch(`http://127.0.0.1:${await freePort()}/`).catch((e: unknown) => e);
    expect(isDatabaseUnavailable(otherService)).toBe(false);
  });

  it('fails a query the database never answers (a silent network) and the pool carries on', async () => {
    await using db = await testDatabase();
    await using proxy = await tcpProxy(db.url);
    const orm = await createOrm({ url: proxy.url, poolMax: 2, acquireTimeoutMs: 1_000, queryTimeoutMs: 500 });
    const readiness = readinessProbe(orm, { url: proxy.url, stuckAfterMs: 1_000 });
    try {
      const conn = orm.em.getConnection();
      expect(await conn.execute('select 1 as ok')).toEqual([{ ok: 1 }]);
      expect((await readiness.check()).ready).toBe(true);
      proxy.silence();
      const started = performance.now();
      const silent = await conn.execute('select 1').catch((e: unknown) => e);
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(isDatabaseUnavailable(silent)).toBe(true);
      const probe = await readiness.check();
      expect(probe.ready).toBe(false);
      // New connections through the proxy forward again: each silent one fails its next query and is
      // dropped (an idle one cannot be told silent before it is used), and the pool goes on.
      await eventually(async () => {
        const rows = await conn.execute<{ ok: number }[]>('select 2 as ok').catch(() => null);
        return rows?.[0]?.ok === 2;
      }, 5_000);
      await eventually(async () => (await readiness.check()).ready);
    } finally {
      await readiness.close();
      await orm.close(true);
    }
  });
});
