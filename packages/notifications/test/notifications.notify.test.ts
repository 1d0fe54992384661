/**
 * `notify` files one notification per business event and announces it on the outbox in the caller's
 * transaction; what the outbox carries is the notification a subscriber receives.
 */

import { notificationEvent, notify } from '@keelson/notifications';
import { readEventsAfter, sequenceEvents } from '@keelson/realtime';
import { createUsers, sql, useTestOrm } from '@keelson/testing';
import { describe, expect, it } from 'vitest';

describe('notify', () => {
  const t = useTestOrm();
  const fork = () => t.orm.em.fork();

  it('files an event key once, and announces what it filed to its recipient only', async () => {
    const [user] = await createUsers(t.db.url, 1);
    const input = {
      userId: user!.id,
      kind: 'order_shipped',
      title: 'Order ABC has shipped',
      body: 'On its way.',
      data: { orderId: 'abc' },
      eventKey: `test:${crypto.randomUUID()}`,
    } as const;
    const first = await fork().transactional((tx) => notify(tx, input));
    const again = await fork().transactional((tx) => notify(tx, { ...input, title: 'A second time' }));
    expect(first).toMatchObject({ kind: 'order_shipped', title: input.title, data: input.data, readAt: null });
    expect(again).toBeNull();
    expect(await sql(t.db.url, 'select title from notification where event_key = $1', [input.eventKey])).toEqual([
      { title: input.title },
    ]);

    // Events get their place in the log after commit (an API process's event hub does this).
    await sequenceEvents(fork());
    const events = await readEventsAfter(fork(), { afterId: 0, limit: 100, topics: ['notification'] });
    expect(events).toHaveLength(1);
    expect(events[0]!.userId).toBe(user!.id);
    expect(notificationEvent.parse(events[0]!.payload)).toEqual(first);
  });

  it('refuses to run outside a transaction (the event must share the change\u2019s commit)', async () => {
    const [user] = await createUsers(t.db.url, 1);
    await expect(
      notify(fork(), {
        userId: user!.id,
        kind: 'order_paid',
        title: 'x',
        body: 'x',
        data: {},
        eventKey: `test:${crypto.randomUUID()}`,
      }),
    ).rejects.toThrow('inside a transaction');
    expect(await sql(t.db.url, 'select 1 from notification where user_id = $1', [user!.id])).toEqual([]);
  });
});
