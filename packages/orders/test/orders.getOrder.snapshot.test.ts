/**
 * `getOrder` answers from one snapshot: however status changes race the reads, an order's status is
 * always the last entry of the history read with it. Writers go through the state machine (the only
 * code that changes a status, each change and its history entry in one transaction); readers are real
 * concurrent queries on their own connections.
 */
import { type OrderStatus, uuidv7 } from '@keelson/db';
import { createProduct, createUsers, sql, useTestOrm } from '@keelson/testing';
import { describe, expect, it } from 'vitest';
import { getOrder } from '../src/orders.ts';
import { transition } from '../src/stateMachine.ts';

/** Every order walks this path, one transition per transaction. */
const path: OrderStatus[] = ['paid', 'shipped', 'delivered', 'refunded'];
const ORDERS = 40;
const READERS = 8;

describe('getOrder under concurrent status changes', () => {
  const t = useTestOrm({ poolMax: 12 });
  const fork = () => t.orm.em.fork();

  async function pendingOrders(userId: string, productId: string): Promise<string[]> {
    const ids = Array.from({ length: ORDERS }, () => uuidv7());
    await sql(
      t.db.url,
      `with o as (
         insert into store_order (id, user_id, status, currency, subtotal_cents, tax_rate_bps, tax_cents, total_cents, created_at, updated_at)
         select id, $2, 'pending_payment', 'USD', 1000, 0, 0, 1000, now(), now() from unnest($1::uuid[]) as t(id)
         returning id
       ), l as (
         insert into order_line (id, order_id, product_id, product_name, product_slug, unit_price_cents, quantity, line_total_cents)
         select gen_random_uuid(), id, $3, 'Mug', 'mug', 1000, 1, 1000 from o
       )
       insert into order_event (id, order_id, from_status, to_status, actor, at)
       select gen_random_uuid(), id, null, 'pending_payment', 'customer', clock_timestamp() from o`,
      [ids, userId, productId],
    );
    return ids;
  }

  it('never shows a status the history read with it does not end in', { timeout: 120_000 }, async () => {
    const [user] = await createUsers(t.db.url, 1);
    const product = await createProduct(t.db.url, { priceCents: 1000, stock: 0 });
    const orders = await pendingOrders(user!.id, product.id);

    let writing = true;
    const writers = Promise.all(
      orders.map(async (orderId) => {
        for (const to of path) {
          await fork().transactional((tx) => transition(tx, { orderId, to, actor: { type: 'system', userId: null } }));
        }
      }),
    ).finally(() => {
      writing = false;
    });

    const torn: { id: string; status: string; last: string | undefined }[] = [];
    let reads = 0;
    const readers = Array.from({ length: READERS }, async (_, r) => {
      // At least one full pass after the writers are done, so the final state is read too.
      for (let i = r; writing || i < orders.length * 2; i++) {
        const order = await getOrder(fork(), orders[i % orders.length]!);
        reads++;
        const last = order.history.at(-1)?.toStatus;
        if (order.status !== last) torn.push({ id: order.id, status: order.status, last });
        expect(order.lines).toHaveLength(1);
        // The history itself is one unbroken chain from pending_payment to the status.
        expect(order.history.map((h) => h.toStatus)).toEqual(
          ['pending_payment', ...path].slice(0, order.history.length),
        );
      }
    });
    await Promise.all([writers, ...readers]);

    console.info(`getOrder snapshot: ${reads} reads during ${ORDERS * path.length} transitions, ${torn.length} torn`);
    expect(reads).toBeGreaterThan(ORDERS * path.length);
    expect(torn).toEqual([]);
    const final = await Promise.all(orders.map((id) => getOrder(fork(), id)));
    expect(new Set(final.map((o) => o.status))).toEqual(new Set(['refunded']));
    // Times read through JSON are the driver's own, to the millisecond.
    const stored = await sql<{ at: Date }>(t.db.url, 'select at from order_event where order_id = $1 order by at, id', [
      orders[0],
    ]);
    expect(final[0]!.history.map((h) => h.at)).toEqual(stored.map((r) => r.at));
  });
});
