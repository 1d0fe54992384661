/**
 * The order state machine against a real database: every (from, to) pair is tried; legal ones change
 * the status and append history, illegal ones answer CONFLICT and change nothing.
 */
import { type OrderStatus, orderStatuses, uuidv7 } from '@keelson/db';
import { AppError } from '@keelson/errors';
import { createUsers, sql, useTestOrm } from '@keelson/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { canTransition, transition, transitions } from '../src/stateMachine.ts';

const legal: [OrderStatus, OrderStatus][] = [
  ['pending_payment', 'paid'],
  ['pending_payment', 'payment_failed'],
  ['pending_payment', 'cancelled'],
  ['paid', 'shipped'],
  ['paid', 'cancelled'],
  ['shipped', 'delivered'],
  ['shipped', 'refunded'],
  ['delivered', 'refunded'],
];

describe('order state machine', () => {
  const t = useTestOrm();
  let userId: string;

  beforeAll(async () => {
    userId = (await createUsers(t.db.url, 1))[0]!.id;
  });

  async function orderIn(status: OrderStatus): Promise<string> {
    const id = uuidv7();
    await sql(
      t.db.url,
      `insert into store_order (id, user_id, status, currency, subtotal_cents, tax_rate_bps, tax_cents, total_cents, created_at, updated_at)
       values ($1, $2, $3, 'USD', 0, 0, 0, 0, now(), now())`,
      [id, userId, status],
    );
    return id;
  }

  it('allows exactly the documented transitions', () => {
    const allowed = orderStatuses.flatMap((from) =>
      orderStatuses.filter((to) => canTransition(from, to)).map((to) => [from, to]),
    );
    expect(allowed.map(String).sort()).toEqual(legal.map(String).sort());
    expect(Object.keys(transitions).sort()).toEqual([...orderStatuses].sort());
  });

  const pairs = orderStatuses.flatMap((from) => orderStatuses.map((to) => [from, to] as const));
  it.each(pairs)('%s → %s', async (from, to) => {
    const id = await orderIn(from);
    const em = t.orm.em.fork();
    const attempt = em.transactional((tx) =>
      transition(tx, { orderId: id, to, actor: { type: 'admin', userId }, note: 'matrix' }),
    );
    const history = () =>
      sql(t.db.url, 'select from_status, to_status, actor, actor_user_id, note from order_event where order_id = $1', [
        id,
      ]);
    const status = async () =>
      (await sql<{ status: string }>(t.db.url, 'select status from store_order where id = $1', [id]))[0]?.status;
    if (canTransition(from, to)) {
      await expect(attempt).resolves.toEqual({ from, to });
      expect(await status()).toBe(to);
      expect(await history()).toEqual([
        { from_status: from, to_status: to, actor: 'admin', actor_user_id: userId, note: 'matrix' },
      ]);
    } else {
      const err = await attempt.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AppError);
      expect(err).toMatchObject({ code: 'ILLEGAL_TRANSITION', status: 409, details: { from, to } });
      expect(await status()).toBe(from);
      expect(await history()).toEqual([]);
    }
  });

  it('answers ORDER_NOT_FOUND for an unknown order and for one owned by someone else', async () => {
    const em = t.orm.em.fork();
    const id = await orderIn('paid');
    for (const change of [
      { orderId: uuidv7(), to: 'shipped' as const },
      { orderId: id, to: 'cancelled' as const, ownerId: uuidv7() },
    ]) {
      const err = await em
        .transactional((tx) => transition(tx, { ...change, actor: { type: 'customer', userId } }))
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'ORDER_NOT_FOUND' });
    }
  });

  it('lets only one of competing concurrent transitions win (the row lock serialises them)', async () => {
    const id = await orderIn('pending_payment');
    const go = (to: OrderStatus) =>
      t.orm.em
        .fork()
        .transactional((tx) => transition(tx, { orderId: id, to, actor: { type: 'system', userId: null } }));
    // After either of these, the other is illegal: exactly one may succeed, whatever the interleaving.
    const results = await Promise.allSettled([go('paid'), go('payment_failed'), go('paid'), go('payment_failed')]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const events = await sql(t.db.url, 'select from_status from order_event where order_id = $1', [id]);
    expect(events).toEqual([{ from_status: 'pending_payment' }]);
  });
});
