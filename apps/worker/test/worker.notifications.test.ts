/**
 * Exactly one notification per business event, however the jobs behind it are retried or duplicated:
 * the worker's task handlers run here as graphile-worker would run a retry (same job again) and a
 * duplicate (another job for the same order or report, at the same time), after the real checkout,
 * admin shipping and report request. Each notification's realtime event is written with it.
 */
import type { Mailer } from '@keelson/email';
import { addCartItem, checkout, markShipped, transition } from '@keelson/orders';
import { requestSalesReport, scheduleDailySalesReport } from '@keelson/reports';
import { createProduct, createUsers, sql, testConfig, useTestOrm } from '@keelson/testing';
import { describe, expect, it } from 'vitest';
import { type TaskName, taskRunner } from './fixtures/runTask.ts';

interface NotificationRow {
  id: string;
  kind: string;
  title: string;
  body: string;
  data: Record<string, unknown>;
}

/** The email jobs these flows enqueue are not run here; nothing else sends mail. */
const noMail: Mailer = { send: () => Promise.reject(new Error('no mail in this test')), close: () => {} };

describe('notifications from worker jobs', () => {
  const t = useTestOrm({ poolMax: 8 });
  const fork = () => t.orm.em.fork();

  /** Runs a task's handler as graphile-worker runs attempt `job.attempts` (default 1) of job `job.id`. */
  const run = taskRunner(() => ({ orm: t.orm, mailer: noMail }));

  /** A job, its retry and a duplicate racing it. */
  async function runRetriedAndDuplicated(task: TaskName, payload: unknown) {
    await Promise.allSettled([run(task, payload, { id: '1' }), run(task, payload, { id: '2' })]);
    await run(task, payload, { id: '1', attempts: 2 });
  }

  const notificationsOf = (userId: string) =>
    sql<NotificationRow>(
      t.db.url,
      'select id, kind, title, body, data from notification where user_id = $1 order by id',
      [userId],
    );
  /** The notification ids the outbox announced to this user, in order. */
  const announcedTo = async (userId: string) =>
    (
      await sql<{ payload: { id: string } }>(
        t.db.url,
        `select payload from app_event where topic = 'notification' and user_id = $1 order by id`,
        [userId],
      )
    ).map((e) => e.payload.id);

  async function placeOrder(paymentToken: string) {
    const [customer] = await createUsers(t.db.url, 1);
    const product = await createProduct(t.db.url, { priceCents: 1250, stock: 5 });
    await addCartItem(fork(), customer!.id, { productId: product.id, quantity: 2 });
    const order = await checkout(fork(), {
      userId: customer!.id,
      input: { idempotencyKey: crypto.randomUUID(), paymentToken },
      settings: testConfig().commerce,
    });
    return { customer: customer!, order };
  }

  it('a paid order notifies its customer once, and shipping it once more', async () => {
    const { customer, order } = await placeOrder('tok_visa');
    const [admin] = await createUsers(t.db.url, 1, { role: 'admin' });
    expect(await notificationsOf(customer.id)).toEqual([]);

    await runRetriedAndDuplicated('payment__capture', { orderId: order.id });
    const paid = await notificationsOf(customer.id);
    expect(paid).toMatchObject([{ kind: 'order_paid', data: { orderId: order.id } }]);
    expect(paid[0]!.body).toContain(`$${(order.totalCents / 100).toFixed(2)}`);

    const actor = { type: 'admin', userId: admin!.id } as const;
    await markShipped(fork(), { orderId: order.id, actor });
    await expect(markShipped(fork(), { orderId: order.id, actor })).rejects.toMatchObject({
      code: 'ILLEGAL_TRANSITION',
    });
    const all = await notificationsOf(customer.id);
    expect(all.map((n) => n.kind)).toEqual(['order_paid', 'order_shipped']);
    expect(await announcedTo(customer.id)).toEqual(all.map((n) => n.id));
    // The admin who shipped it is not the one told.
    expect(await notificationsOf(admin!.id)).toEqual([]);
  });

  it('a declined card notifies its customer once, with the reason', async () => {
    const { customer, order } = await placeOrder('tok_chargeDeclined');
    await runRetriedAndDuplicated('payment__capture', { orderId: order.id });
    const rows = await notificationsOf(customer.id);
    expect(rows).toMatchObject([{ kind: 'payment_failed', data: { orderId: order.id } }]);
    expect(rows[0]!.body).toMatch(/declined/i);
    expect(await announcedTo(customer.id)).toEqual([rows[0]!.id]);
  });

  it('a ready report notifies the admin who asked for it, once; a scheduled one nobody', async () => {
    const [admin, otherAdmin] = await createUsers(t.db.url, 2, { role: 'admin' });
    const report = await requestSalesReport(fork(), {
      params: { from: new Date('2026-01-01T00:00:00Z'), to: new Date('2026-01-02T00:00:00Z'), groupBy: 'day' },
      requestedBy: admin!.id,
    });
    await runRetriedAndDuplicated('report__generate_sales', { reportId: report.id });
    const rows = await notificationsOf(admin!.id);
    expect(rows).toMatchObject([
      { kind: 'report_ready', data: { reportId: report.id, downloadUrl: `/reports/${report.id}.csv` } },
    ]);
    expect(await announcedTo(admin!.id)).toEqual([rows[0]!.id]);
    expect(await notificationsOf(otherAdmin!.id)).toEqual([]);

    const before = await sql(t.db.url, 'select 1 from notification');
    const daily = await scheduleDailySalesReport(fork(), new Date('2026-03-02T04:00:00Z'));
    await run('report__generate_sales', { reportId: daily.id }, { id: '3' });
    expect((await sql(t.db.url, `select status from report where id = $1`, [daily.id]))[0]).toEqual({
      status: 'ready',
    });
    expect(await sql(t.db.url, 'select 1 from notification')).toHaveLength(before.length);
  });

  it('a status change that rolls back leaves neither a notification nor its event', async () => {
    const { customer, order } = await placeOrder('tok_visa');
    await expect(
      fork().transactional(async (tx) => {
        await transition(tx, { orderId: order.id, to: 'paid', actor: { type: 'system', userId: null } });
        throw new Error('rolled back after the transition');
      }),
    ).rejects.toThrow('rolled back');
    expect(await notificationsOf(customer.id)).toEqual([]);
    expect(await announcedTo(customer.id)).toEqual([]);
  });
});
