/**
 * Ordering of the realtime outbox without a writers' lock: ids are taken before commit and commit out
 * of order; positions are given after commit by the sequencer, so a cursor never skips a late commit.
 */
import { createOrm } from '@keelson/db';
import { createEventHub, type EventHub, publishEvents, type StoredEvent, sequenceEvents } from '@keelson/realtime';
import { eventually, sql, testDatabase } from '@keelson/testing/database';
import pg from 'pg';
import { describe, expect, it } from 'vitest';

/** Collects a subscription's events until the signal aborts. */
function collect(hub: EventHub, opts: { lastEventId?: number; signal: AbortSignal }) {
  const got: StoredEvent[] = [];
  const done = (async () => {
    for await (const e of hub.subscribe({ filter: () => true, ...opts })) got.push(e);
  })();
  return { got, done };
}

const tags = (events: StoredEvent[]) => events.map((e) => String(e.payload.tag));

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('event sequencing', () => {
  it('delivers a lower id that commits after a higher one, exactly once, live and on resume', async () => {
    await using db = await testDatabase();
    const orm = await createOrm({ url: db.url, poolMax: 4 });
    const hub = createEventHub({ orm, url: db.url });
    const stop = new AbortController();
    try {
      await hub.start();
      const start = hub.lastId;
      const live = collect(hub, { signal: stop.signal });
      await eventually(async () => hub.subscriberCount === 1);

      // Two open transactions; the first inserts first (the lower id) and commits last.
      const open = (tag: string) => {
        const inserted = deferred();
        const commit = deferred();
        let id = 0;
        const committed = orm.em.fork().transactional(async (tx) => {
          await publishEvents(tx, [{ topic: 'stock', payload: { tag } }]);
          const [row] = await tx
            .getConnection()
            .execute<{ id: string }[]>(
              'select max(id)::text as id from app_event',
              [],
              'all',
              tx.getTransactionContext(),
            );
          id = Number(row?.id);
          inserted.resolve();
          await commit.promise;
        });
        return { inserted: inserted.promise, commit: commit.resolve, committed, id: () => id };
      };
      const early = open('early');
      await early.inserted;
      const late = open('late');
      await late.inserted;
      expect(early.id()).toBeLessThan(late.id());

      late.commit();
      await late.committed;
      await eventually(async () => live.got.length === 1);
      expect(tags(live.got)).toEqual(['late']);
      const seenLate = live.got[0]!.id;

      early.commit();
      await early.committed;
      await eventually(async () => live.got.length === 2);
      expect(tags(live.got)).toEqual(['late', 'early']);
      expect(live.got.map((e) => e.id)).toEqual([seenLate, seenLate + 1]);

      // Resuming from before both, and from the cursor a reader had after the higher id committed.
      const fromStart = collect(hub, { lastEventId: start, signal: stop.signal });
      const fromLate = collect(hub, { lastEventId: seenLate, signal: stop.signal });
      await eventually(async () => fromStart.got.length === 2 && fromLate.got.length === 1);
      expect(tags(fromStart.got)).toEqual(['late', 'early']);
      expect(tags(fromLate.got)).toEqual(['early']);
      // Nothing more arrives: no duplicate from the live queue after the back-fill.
      await orm.em.fork().transactional((tx) => publishEvents(tx, [{ topic: 'stock', payload: { tag: 'after' } }]));
      await eventually(async () => live.got.length === 3 && fromStart.got.length === 3 && fromLate.got.length === 2);
      expect(tags(fromStart.got)).toEqual(['late', 'early', 'after']);
      expect(tags(fromLate.got)).toEqual(['early', 'after']);
    } finally {
      stop.abort();
      await hub.close();
      await orm.close(true);
    }
  });

  it("keeps one transaction's events together when another's id falls between them", async () => {
    await using db = await testDatabase();
    const orm = await createOrm({ url: db.url, poolMax: 2 });
    const [a, b] = [new pg.Client(db.url), new pg.Client(db.url)];
    await Promise.all([a.connect(), b.connect()]);
    try {
      const insert = (c: pg.Client, tag: string) =>
        c.query(`insert into app_event (topic, payload, created_at) values ('stock', $1, now())`, [{ tag }]);
      // Ids A1 < B1 < A2, as concurrent multi-row inserts interleave their nextvals.
      await a.query('begin');
      await insert(a, 'A1');
      await b.query('begin');
      await insert(b, 'B1');
      await insert(a, 'A2');
      await b.query('commit');
      await a.query('commit');
      await sequenceEvents(orm.em);
      const rows = await sql<{ tag: string }>(
        db.url,
        `select payload ->> 'tag' as tag from app_event order by position`,
      );
      expect(rows.map((r) => r.tag)).toEqual(['A1', 'A2', 'B1']);
    } finally {
      await Promise.all([a.end(), b.end()]);
      await orm.close(true);
    }
  });

  it('gives concurrent publishers one gapless order, the same on every hub and on resume', {
    timeout: 60_000,
  }, async () => {
    await using db = await testDatabase();
    const writers = await createOrm({ url: db.url, poolMax: 10 });
    const hubs = await Promise.all(
      [1, 2, 3].map(async () => {
        const orm = await createOrm({ url: db.url, poolMax: 3 });
        return { orm, hub: createEventHub({ orm, url: db.url }) };
      }),
    );
    const stop = new AbortController();
    try {
      for (const { hub } of hubs) await hub.start();
      const start = hubs[0]!.hub.lastId;
      const streams = hubs.map(({ hub }) => collect(hub, { signal: stop.signal }));
      await eventually(async () => hubs.every(({ hub }) => hub.subscriberCount === 1));

      // 30 publishers x 5 transactions of 1 to 3 events, each holding its transaction open for a random
      // moment after the insert, so commits come out of id order.
      const published: string[] = [];
      await Promise.all(
        Array.from({ length: 30 }, async (_, p) => {
          for (let t = 0; t < 5; t++) {
            const batch = Array.from({ length: 1 + ((p + t) % 3) }, (_, i) => `${p}.${t}.${i}`);
            await writers.em.fork().transactional(async (tx) => {
              await publishEvents(
                tx,
                batch.map((tag) => ({ topic: 'stock' as const, payload: { tag } })),
              );
              await new Promise((r) => setTimeout(r, Math.random() * 20));
            });
            published.push(...batch);
          }
        }),
      );
      const total = published.length;
      await eventually(async () => streams.every((s) => s.got.length >= total), 30_000);

      const order = tags(streams[0]!.got);
      expect(new Set(order).size).toBe(total);
      expect([...order].sort()).toEqual([...published].sort());
      for (const s of streams) {
        expect(tags(s.got)).toEqual(order);
        expect(s.got.map((e) => e.id)).toEqual(Array.from({ length: total }, (_, i) => start + 1 + i));
      }
      // Events of one transaction stay together and in the order given.
      const three = order.indexOf('0.2.0');
      expect(order.slice(three, three + 3)).toEqual(['0.2.0', '0.2.1', '0.2.2']);

      const resumed = collect(hubs[1]!.hub, { lastEventId: start, signal: stop.signal });
      await eventually(async () => resumed.got.length >= total, 30_000);
      expect(tags(resumed.got)).toEqual(order);
      expect(await sql(db.url, 'select id from app_event where position is null')).toEqual([]);
    } finally {
      stop.abort();
      for (const { hub, orm } of hubs) {
        await hub.close();
        await orm.close(true);
      }
      await writers.close(true);
    }
  });
});
