/**
 * The inbox through the router (createCaller): newest first with keyset pages and the unread count,
 * unread only, and marking read, which touches only the caller's notifications and is idempotent.
 */
import { notify } from '@keelson/notifications';
import { createUsers, sql, testContext, useTestOrm } from '@keelson/testing';
import { appRouter, createCallerFactory } from '@keelson/trpc';
import { TRPCError } from '@trpc/server';
import { beforeAll, describe, expect, it } from 'vitest';

const createCaller = createCallerFactory(appRouter);

describe('notifications (createCaller)', () => {
  const t = useTestOrm();
  let alice: ReturnType<typeof createCaller>;
  let bob: ReturnType<typeof createCaller>;
  let aliceId: string;
  let bobId: string;

  /** Files `count` notifications for a user, one transaction each, as business events would. */
  async function file(userId: string, count: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const n = await t.orm.em.fork().transactional((tx) =>
        notify(tx, {
          userId,
          kind: 'order_paid',
          title: `Order ${i} is paid`,
          body: 'Thank you.',
          data: { orderId: crypto.randomUUID() },
          eventKey: `test:${crypto.randomUUID()}`,
        }),
      );
      ids.push(n!.id);
    }
    return ids;
  }
  const codeOf = (p: Promise<unknown>) =>
    p.then(
      () => 'ok',
      (err: unknown) => (err instanceof TRPCError ? err.code : `unexpected ${String(err)}`),
    );

  beforeAll(async () => {
    const [a, b] = await createUsers(t.db.url, 2);
    aliceId = a!.id;
    bobId = b!.id;
    alice = createCaller(testContext(t.orm, { token: a!.token }));
    bob = createCaller(testContext(t.orm, { token: b!.token }));
  });

  it('lists newest first in keyset pages, with the unread count of the whole inbox', async () => {
    const filed = await file(aliceId, 7);
    await file(bobId, 2);
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page++) {
      const result = await alice.notifications.list({ limit: 3, ...(cursor ? { cursor } : {}) });
      expect(result.unreadCount).toBe(7);
      seen.push(...result.items.map((n) => n.id));
      if (!result.nextCursor) break;
      cursor = result.nextCursor;
    }
    // UUIDv7 ids sort by creation time: newest first is descending id order.
    expect(seen).toEqual([...filed].sort().reverse());
    const first = (await alice.notifications.list({ limit: 1 })).items[0]!;
    expect(first).toMatchObject({ kind: 'order_paid', readAt: null, title: expect.stringContaining('is paid') });
    expect(first.createdAt).toBeInstanceOf(Date);
  });

  it('marks the caller’s own read, idempotently, and unread-only lists what is left', async () => {
    const { items } = await alice.notifications.list({ limit: 100 });
    const [one, two] = items.map((n) => n.id);
    expect(await alice.notifications.markRead({ ids: [one!, two!] })).toEqual({ marked: 2, unreadCount: 5 });
    const readAt = (await alice.notifications.list({ limit: 100 })).items.find((n) => n.id === one)!.readAt;
    expect(readAt).toBeInstanceOf(Date);
    // Again: nothing changes, not even the time it was read.
    expect(await alice.notifications.markRead({ ids: [one!] })).toEqual({ marked: 0, unreadCount: 5 });
    const after = await alice.notifications.list({ limit: 100 });
    expect(after.items.find((n) => n.id === one)!.readAt).toEqual(readAt);

    const unread = await alice.notifications.list({ unreadOnly: true, limit: 100 });
    expect(unread.items.map((n) => n.id)).toEqual(items.map((n) => n.id).filter((id) => id !== one && id !== two));
    expect(unread.items.every((n) => n.readAt === null)).toBe(true);
  });

  it('answers NOT_FOUND for anyone else’s (or an unknown) id and marks nothing', async () => {
    const bobs = (await bob.notifications.list({})).items.map((n) => n.id);
    const alices = (await alice.notifications.list({ unreadOnly: true })).items.map((n) => n.id);
    const unreadBefore = await sql(t.db.url, 'select id from notification where read_at is null order by id');

    expect(await codeOf(alice.notifications.markRead({ ids: [bobs[0]!] }))).toBe('NOT_FOUND');
    // A mix of one's own and another's is refused whole.
    expect(await codeOf(alice.notifications.markRead({ ids: [alices[0]!, bobs[0]!] }))).toBe('NOT_FOUND');
    expect(await codeOf(alice.notifications.markRead({ ids: [crypto.randomUUID()] }))).toBe('NOT_FOUND');
    expect(await codeOf(alice.notifications.markRead({ ids: [] }))).toBe('BAD_REQUEST');
    expect(await codeOf(alice.notifications.markRead({ all: false } as never))).toBe('BAD_REQUEST');
    expect(await sql(t.db.url, 'select id from notification where read_at is null order by id')).toEqual(unreadBefore);
    // Nobody lists another's notifications either.
    expect(bobs.some((id) => alices.includes(id))).toBe(false);
  });

  it('marks all of the caller’s read, and only the caller’s', async () => {
    expect(await alice.notifications.markRead({ all: true })).toEqual({ marked: 5, unreadCount: 0 });
    expect(await alice.notifications.markRead({ all: true })).toEqual({ marked: 0, unreadCount: 0 });
    expect((await alice.notifications.list({ unreadOnly: true })).items).toEqual([]);
    expect((await bob.notifications.list({})).unreadCount).toBe(2);
  });

  it('is for signed-in users only', async () => {
    const anonymous = createCaller(testContext(t.orm));
    expect(await codeOf(anonymous.notifications.list({}))).toBe('UNAUTHORIZED');
    expect(await codeOf(anonymous.notifications.markRead({ all: true }))).toBe('UNAUTHORIZED');
  });
});
