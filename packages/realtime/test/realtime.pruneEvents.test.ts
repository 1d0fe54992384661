/**
 * Pruning the realtime outbox: old sequenced events go in bounded batches, never unsequenced ones, and
 * the mark it leaves turns a resume from a pruned cursor into EventsExpiredError instead of a silent gap.
 */
import { createOrm } from '@keelson/db';
import {
  createEventHub,
  EventsExpiredError,
  eventLogBounds,
  pruneEvents,
  publishEvents,
  type StoredEvent,
  sequenceEvents,
} from '@keelson/realtime';
import { sql, testDatabase } from '@keelson/testing/database';
import { describe, expect, it } from 'vitest';

const HOUR = 3_600_000;

describe('pruneEvents', () => {
  it('deletes the old prefix in batches, keeps unsequenced and young events, and is idempotent', async () => {
    await using db = await testDatabase();
    const orm = await createOrm({ url: db.url, poolMax: 2 });
    const publish = (tags: string[]) =>
      orm.em.fork().transactional((tx) =>
        publishEvents(
          tx,
          tags.map((tag) => ({ topic: 'stock' as const, payload: { tag } })),
        ),
      );
    const remaining = async () =>
      (
        await sql<{ tag: string; position: string | null }>(
          db.url,
          `select payload ->> 'tag' as tag, position::text from app_event order by position nulls last, id`,
        )
      ).map((r) => `${r.tag}@${r.position ?? 'null'}`);
    try {
      // Positions 1-7 are 100 hours old, 8 is young, 9 is old again (an event of a long transaction).
      await publish(['o1', 'o2', 'o3', 'o4', 'o5', 'o6', 'o7', 'young', 'o9']);
      expect(await sequenceEvents(orm.em.fork())).toBe(9);
      await sql(db.url, `update app_event set created_at = now() - interval '100 hours' where position <> 8`);
      // Committed but not sequenced yet, and old: not pruning's business.
      await publish(['unsequenced']);
      await sql(db.url, `update app_event set created_at = now() - interval '100 hours' where position is null`);
      const olderThan = new Date(Date.now() - 72 * HOUR);

      expect(await pruneEvents(orm.em.fork(), { olderThan, batchSize: 3 })).toEqual({
        deleted: 7,
        batches: 3,
        prunedThrough: 7,
      });
      expect(await remaining()).toEqual(['young@8', 'o9@9', 'unsequenced@null']);

      // Again: nothing left to do, the mark stays.
      expect(await pruneEvents(orm.em.fork(), { olderThan, batchSize: 3 })).toEqual({
        deleted: 0,
        batches: 1,
        prunedThrough: 7,
      });
      expect(await remaining()).toEqual(['young@8', 'o9@9', 'unsequenced@null']);

      // Everything sequenced goes once it is old enough; numbering carries on after the mark.
      expect(await sequenceEvents(orm.em.fork())).toBe(10);
      const all = await pruneEvents(orm.em.fork(), { olderThan: new Date(Date.now() + HOUR) });
      expect(all).toEqual({ deleted: 3, batches: 1, prunedThrough: 10 });
      expect(await remaining()).toEqual([]);
      await publish(['next']);
      expect(await sequenceEvents(orm.em.fork())).toBe(11);
      expect((await eventLogBounds(orm.em.fork())).prunedThrough).toBe(10);
    } finally {
      await orm.close(true);
    }
  });

  it('ends a resume from a pruned cursor with EventsExpiredError, and serves one at the mark', async () => {
    await using db = await testDatabase();
    const orm = await createOrm({ url: db.url, poolMax: 3 });
    const hub = createEventHub({ orm, url: db.url });
    try {
      await orm.em.fork().transactional((tx) =>
        publishEvents(
          tx,
          [1, 2, 3, 4, 5].map((n) => ({ topic: 'stock' as const, payload: { n } })),
        ),
      );
      await hub.start();
      await sql(db.url, `update app_event set created_at = now() - interval '100 hours' where position <= 3`);
      await pruneEvents(orm.em.fork(), { olderThan: new Date(Date.now() - 72 * HOUR) });

      const resume = async (lastEventId: number) => {
        const ac = new AbortController();
        const got: StoredEvent[] = [];
        try {
          for await (const e of hub.subscribe({ filter: () => true, lastEventId, signal: ac.signal })) {
            got.push(e);
            if (got.length === 5 - lastEventId) ac.abort();
          }
          return got.map((e) => e.payload.n);
        } catch (err) {
          return err;
        }
      };
      const expired = await resume(2);
      expect(expired).toBeInstanceOf(EventsExpiredError);
      expect(expired).toMatchObject({ cursor: 2, prunedThrough: 3 });
      expect(await resume(3)).toEqual([4, 5]);
      // A cursor this log never issued (a restored backup, another environment) is refused too, rather
      // than silently skipping every event until the numbering passes it.
      expect(await resume(6)).toMatchObject({ cursor: 6, reason: 'ahead' });
      expect(hub.subscriberCount).toBe(0);

      // Pruning may empty the table: a hub starting then starts at the mark, so its subscribers'
      // cursors are not below it (an overflow would otherwise look like a resume from pruned history).
      await sql(db.url, `update app_event set created_at = now() - interval '100 hours'`);
      await pruneEvents(orm.em.fork(), { olderThan: new Date(Date.now() - 72 * HOUR) });
      expect(await sql(db.url, 'select count(*)::int as n from app_event')).toEqual([{ n: 0 }]);
      const late = createEventHub({ orm, url: db.url });
      try {
        await late.start();
        expect(late.lastId).toBe(5);
      } finally {
        await late.close();
      }
    } finally {
      await hub.close();
      await orm.close(true);
    }
  });
});
