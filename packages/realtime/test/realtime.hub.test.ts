import { createOrm } from '@keelson/db';
import { createEventHub, publishEvents, type StoredEvent } from '@keelson/realtime';
import { eventually, sql, testDatabase } from '@keelson/testing/database';
import pg from 'pg';
import { describe, expect, it } from 'vitest';

const USER_A = '00000000-0000-7000-8000-00000000000a';

describe('event hub', () => {
  it('fans out committed events, back-fills from a cursor, ends on abort and catches up after a LISTEN gap', async () => {
    await using db = await testDatabase();
    const orm = await createOrm({ url: db.url, poolMax: 4 });
    const hub = createEventHub({ orm, url: db.url, initialBackoffMs: 20 });
    const publish = (n: number, userId: string | null = null) =>
      orm.em.fork().transactional((tx) =>
        publishEvents(
          tx,
          Array.from({ length: n }, (_, i) => ({ topic: 'stock' as const, userId, payload: { i } })),
        ),
      );
    try {
      await publish(2); // history: not delivered live
      await hub.start();
      const live = new AbortController();
      const got: StoredEvent[] = [];
      const consuming = (async () => {
        for await (const e of hub.subscribe({ filter: (e) => e.userId === null, signal: live.signal })) got.push(e);
      })();
      await eventually(async () => hub.subscriberCount === 1);
      // A rolled-back transaction announces nothing.
      await orm.em
        .fork()
        .transactional(async (tx) => {
          await publishEvents(tx, [{ topic: 'stock', payload: { rolledBack: true } }]);
          throw new Error('rollback');
        })
        .catch(() => {});
      await publish(3);
      await publish(1, USER_A); // filtered out
      await eventually(async () => got.length === 3);
      expect(got.map((e) => e.payload)).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }]);

      // Resume: everything after the first live event, then live ones, no duplicates.
      const resumed: StoredEvent[] = [];
      const resume = new AbortController();
      const resuming = (async () => {
        for await (const e of hub.subscribe({
          filter: () => true,
          lastEventId: got[0]?.id ?? 0,
          signal: resume.signal,
        })) {
          resumed.push(e);
        }
      })();
      await eventually(async () => resumed.length === 3);
      expect(resumed.map((e) => e.payload)).toEqual([{ i: 1 }, { i: 2 }, { i: 0 }]);

      // Killing the LISTEN connection: events published while deaf arrive after the reconnection.
      const pid = hub.listener.backendPid;
      await sql(db.url, 'select pg_terminate_backend($1)', [pid]);
      await publish(2);
      await eventually(async () => hub.listener.connected && hub.listener.backendPid !== pid);
      await eventually(async () => got.length === 5 && resumed.length === 5);
      const ids = resumed.map((e) => e.id);
      expect(ids).toEqual([...ids].sort((a, b) => a - b));

      live.abort();
      resume.abort();
      await Promise.all([consuming, resuming]);
      expect(hub.subscriberCount).toBe(0);
    } finally {
      await hub.close();
      await orm.close(true);
    }
  });

  it('leaves no subscriber behind after many subscribe/abort cycles', async () => {
    await using db = await testDatabase();
    const orm = await createOrm({ url: db.url, poolMax: 2 });
    const hub = createEventHub({ orm, url: db.url });
    try {
      await hub.start();
      for (let i = 0; i < 1_000; i++) {
        const ac = new AbortController();
        const it = hub.subscribe({ filter: () => true, signal: ac.signal });
        const next = it.next();
        ac.abort();
        expect((await next).done).toBe(true);
      }
      expect(hub.subscriberCount).toBe(0);
    } finally {
      await hub.close();
      await orm.close(true);
    }
  });
  it('reads again after a failed fan-out read, without waiting for another event', async () => {
    await using db = await testDatabase();
    const orm = await createOrm({ url: db.url, poolMax: 4 });
    const warnings: string[] = [];
    const logger = { info: () => {}, warn: (_obj: object, msg?: string) => void warnings.push(msg ?? '') };
    const hub = createEventHub({ orm, url: db.url, logger, sequenceRetryMs: 100 });
    const writer = new pg.Client({ connectionString: db.url });
    const locker = new pg.Client({ connectionString: db.url });
    await writer.connect();
    await locker.connect();
    const ac = new AbortController();
    try {
      await hub.start();
      const got: StoredEvent[] = [];
      const consuming = (async () => {
        for await (const e of hub.subscribe({ filter: () => true, signal: ac.signal })) got.push(e);
      })();
      await eventually(async () => hub.subscriberCount === 1);
      // One event, sequenced by hand (as another process's sequencer would), whose commit hands the table
      // to a waiting exclusive lock: the hub's read of it blocks, and is then killed (a dropped pool
      // connection, a statement timeout, a failover of the pool's side only).
      await writer.query('begin');
      await writer.query(
        `insert into app_event (topic, payload, created_at, position) values ('stock', '{"i":1}', now(), 1)`,
      );
      await writer.query(`select pg_notify('keelson_events', '1')`);
      const locking = locker.query('begin; lock table app_event in access exclusive mode');
      await eventually(async () => {
        const [row] = await sql<{ n: number }>(
          db.url,
          `select count(*)::int as n from pg_locks
           where not granted and database = (select oid from pg_database where datname = current_database())`,
        );
        return (row?.n ?? 0) > 0;
      });
      await writer.query('commit');
      await locking;
      const reader = await eventually(async () => {
        const [row] = await sql<{ pid: number }>(
          db.url,
          // The fan-out read's statement, not the sequencer's: the hub's catch-up after its LISTEN
          // connected may still be sequencing, and waits on the same lock.
          `select pid from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'
             and query like 'select "position", "topic", "user_id", "payload", "created_at" from "app_event"%'`,
        );
        return row?.pid;
      });
      await sql(db.url, 'select pg_terminate_backend($1)', [reader]);
      await eventually(async () => warnings.includes('could not read events'));
      await locker.query('commit');
      // No other event, no LISTEN gap: only the hub's own retry can deliver it.
      await eventually(async () => got.length === 1);
      expect(got.map((e) => e.payload)).toEqual([{ i: 1 }]);
      ac.abort();
      await consuming;
    } finally {
      ac.abort();
      await writer.end();
      await locker.end();
      await hub.close();
      await orm.close(true);
    }
  });
  it('resuming subscribers cannot take the whole pool: their back-fill reads queue for a few connections', async () => {
    await using db = await testDatabase();
    const orm = await createOrm({ url: db.url, poolMax: 4 });
    const hub = createEventHub({ orm, url: db.url });
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    const ac = new AbortController();
    try {
      await orm.em.fork().transactional((tx) =>
        publishEvents(
          tx,
          Array.from({ length: 10 }, (_, i) => ({ topic: 'stock' as const, payload: { i } })),
        ),
      );
      await hub.start();
      // Slow back-fills (a long history, a busy database), made to wait here by a lock.
      await locker.query('begin; lock table app_event in access exclusive mode');
      const resumed = Array.from({ length: 8 }, () => {
        const got: StoredEvent[] = [];
        const done = (async () => {
          for await (const e of hub.subscribe({ filter: () => true, lastEventId: 0, signal: ac.signal })) got.push(e);
        })();
        return { got, done };
      });
      // The back-fill read is Kysely's (`from "app_event"`), the head read plain SQL: either may be the
      // one waiting first, so both spellings count.
      await eventually(async () => {
        const [row] = await sql<{ n: number }>(
          db.url,
          `select count(*)::int as n from pg_stat_activity where datname = current_database()
             and wait_event_type = 'Lock' and query ~ 'from "?app_event"?'`,
        );
        return (row?.n ?? 0) > 0;
      });
      // Everything else the process does (checkouts, sign-ins) still gets a connection.
      let answered = false;
      void orm.em
        .fork()
        .getConnection()
        .execute('select 1')
        .then(() => {
          answered = true;
        });
      await eventually(async () => answered);
      await locker.query('commit');
      await eventually(async () => resumed.every((r) => r.got.length === 10));
      ac.abort();
      await Promise.all(resumed.map((r) => r.done));
      expect(hub.subscriberCount).toBe(0);
    } finally {
      ac.abort();
      await locker.end();
      await hub.close();
      await orm.close(true);
    }
  });
  it('applies topics and userId itself, live and after an overflow, and a slow consumer loses nothing', async () => {
    await using db = await testDatabase();
    const orm = await createOrm({ url: db.url, poolMax: 4 });
    // A queue of 2: a consumer that stops reading overflows at once and must re-read from the table.
    const hub = createEventHub({ orm, url: db.url, maxQueue: 2, batchSize: 3 });
    const USER_B = '00000000-0000-7000-8000-00000000000b';
    try {
      await hub.start();
      const ac = new AbortController();
      // Customer A's view of orders: no filter at all, only topics and userId.
      const it = hub.subscribe({ topics: ['order'], userId: USER_A, signal: ac.signal });
      const first = it.next();
      await eventually(async () => hub.subscriberCount === 1);
      await orm.em.fork().transactional((tx) =>
        publishEvents(tx, [
          { topic: 'order', userId: USER_A, payload: { n: 0 } },
          { topic: 'order', userId: USER_B, payload: { n: -1 } },
          { topic: 'stock', payload: { n: -2 } },
        ]),
      );
      expect((await first).value?.payload).toEqual({ n: 0 });
      // Not reading now: ten more of A's, past the queue of 2, interleaved with B's.
      for (let n = 1; n <= 10; n++) {
        await orm.em.fork().transactional((tx) =>
          publishEvents(tx, [
            { topic: 'order', userId: USER_B, payload: { n: -n } },
            { topic: 'order', userId: USER_A, payload: { n } },
          ]),
        );
      }
      await eventually(async () => hub.lastId >= 23);
      const rest: unknown[] = [];
      while (rest.length < 10) rest.push((await it.next()).value?.payload);
      expect(rest).toEqual(Array.from({ length: 10 }, (_, i) => ({ n: i + 1 })));
      ac.abort();
      await it.return(undefined);
      expect(hub.subscriberCount).toBe(0);
    } finally {
      await hub.close();
      await orm.close(true);
    }
  });
});
