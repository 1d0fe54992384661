/**
 * The store end to end, through the real client over HTTP, with the worker taking payments: cart
 * totals, checkout with stock reservation, idempotency, payments (success, decline, transient
 * failure), the order lifecycle, and the oversell race. After every test the stock ledger must
 * balance: stock + units in live orders = initial stock + restocks, for every product.
 */
import type { KeelsonClient } from '@keelson/client';
import {
  createProduct,
  createUsers,
  eventually,
  queuedJobs,
  type SmtpCapture,
  sql,
  startSmtpCapture,
  startTestApi,
  startTestWorker,
  stockDiscrepancies,
  type TestApi,
  type TestUser,
} from '@keelson/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

/** The tRPC error a call failed with: code, app code and details (or null if it succeeded). */
async function failure(call: Promise<unknown>) {
  try {
    await call;
    return null;
  } catch (err) {
    const e = err as {
      message: string;
      data?: { code: string; httpStatus: number; appCode: string; details: unknown };
    };
    return { message: e.message, ...e.data };
  }
}

describe('commerce', () => {
  let api: TestApi;
  let worker: Awaited<ReturnType<typeof startTestWorker>>;
  let smtp: SmtpCapture;
  let admin: KeelsonClient;
  let n = 0;

  /** A new customer with a client of their own. */
  async function customer(): Promise<TestUser & { client: KeelsonClient }> {
    const [user] = await createUsers(api.db.url, 1, { prefix: `c${++n}` });
    return { ...user!, client: api.newClient({ token: () => user!.token }) };
  }
  const stockOf = async (id: string) =>
    (await sql<{ stock: number }>(api.db.url, 'select stock from product where id = $1', [id]))[0]!.stock;
  const key = () => `key-${crypto.randomUUID()}`;

  beforeAll(async () => {
    smtp = await startSmtpCapture();
    // 8.25 % tax, so rounding shows.
    api = await startTestApi({ config: { TAX_RATE_BPS: '825' } });
    worker = await startTestWorker({
      db: api.db,
      config: { SMTP_URL: smtp.url, PAYMENT_SANDBOX_TRANSIENT_FAILURES: '1', WORKER_CONCURRENCY: '10' },
    });
    const [a] = await createUsers(api.db.url, 1, { role: 'admin', prefix: 'admin' });
    admin = api.newClient({ token: () => a!.token });
  });
  afterAll(async () => {
    await worker?.stop();
    await api?.close();
    await smtp?.close();
  });
  afterEach(async () => {
    expect(await stockDiscrepancies(api.db.url)).toEqual([]);
  });

  describe('cart', () => {
    it('prices lines, subtotal, tax (half-up on the subtotal) and total on the server', async () => {
      const { client } = await customer();
      const mug = await createProduct(api.db.url, { priceCents: 1099, stock: 10 });
      const lamp = await createProduct(api.db.url, { priceCents: 2501, stock: 10 });
      await client.cart.addItem.mutate({ productId: mug.id, quantity: 2 });
      const cart = await client.cart.addItem.mutate({ productId: lamp.id, quantity: 1 });
      // 2 × 10.99 + 25.01 = 46.99; 8.25 % of 4699 = 387.6675 → 388.
      expect(cart).toMatchObject({
        currency: 'USD',
        itemCount: 3,
        subtotalCents: 4699,
        taxRateBps: 825,
        taxCents: 388,
        totalCents: 5087,
        checkoutReady: true,
      });
      expect(cart.lines.map((l) => [l.productId, l.quantity, l.lineTotalCents])).toEqual([
        [mug.id, 2, 2198],
        [lamp.id, 1, 2501],
      ]);
      // Adding again adds to the line; updating sets it; removing and clearing empty it.
      expect((await client.cart.addItem.mutate({ productId: mug.id, quantity: 3 })).lines[0]?.quantity).toBe(5);
      expect((await client.cart.updateItem.mutate({ productId: mug.id, quantity: 1 })).subtotalCents).toBe(3600);
      expect((await client.cart.removeItem.mutate({ productId: lamp.id })).lines).toHaveLength(1);
      expect(await client.cart.clear.mutate()).toMatchObject({ lines: [], totalCents: 0, checkoutReady: false });
    });

    it('refuses bad quantities, unknown and archived products, and over-full lines, changing nothing', async () => {
      const { client, id } = await customer();
      const p = await createProduct(api.db.url, { priceCents: 500, stock: 5 });
      const archived = await createProduct(api.db.url, { priceCents: 500, stock: 5 });
      await sql(api.db.url, 'update product set archived_at = now() where id = $1', [archived.id]);
      for (const quantity of [0, 100, 1.5, -1]) {
        expect(await failure(client.cart.addItem.mutate({ productId: p.id, quantity }))).toMatchObject({
          code: 'BAD_REQUEST',
          appCode: 'VALIDATION_FAILED',
        });
      }
      expect(await failure(client.cart.addItem.mutate({ productId: crypto.randomUUID() }))).toMatchObject({
        code: 'NOT_FOUND',
        appCode: 'PRODUCT_NOT_FOUND',
      });
      expect(await failure(client.cart.addItem.mutate({ productId: archived.id }))).toMatchObject({
        code: 'CONFLICT',
        appCode: 'PRODUCT_UNAVAILABLE',
      });
      await client.cart.addItem.mutate({ productId: p.id, quantity: 98 });
      expect(await failure(client.cart.addItem.mutate({ productId: p.id, quantity: 2 }))).toMatchObject({
        code: 'BAD_REQUEST',
        appCode: 'CART_QUANTITY_LIMIT',
      });
      expect(await failure(client.cart.updateItem.mutate({ productId: archived.id, quantity: 1 }))).toMatchObject({
        code: 'CONFLICT',
      });
      expect(await failure(client.cart.removeItem.mutate({ productId: crypto.randomUUID() }))).toMatchObject({
        code: 'NOT_FOUND',
        appCode: 'CART_ITEM_NOT_FOUND',
      });
      const rows = await sql(api.db.url, 'select quantity from cart_item where user_id = $1', [id]);
      expect(rows).toEqual([{ quantity: 98 }]);
    });

    it('holds at most 100 different products', async () => {
      const { client, id } = await customer();
      const products = [];
      for (let i = 0; i < 101; i++) products.push(await createProduct(api.db.url, { priceCents: 100, stock: 1 }));
      await sql(
        api.db.url,
        `insert into cart_item (id, user_id, product_id, quantity, price_cents_seen, added_at, updated_at)
         select gen_random_uuid(), $1, p, 1, 100, now(), now() from unnest($2::uuid[]) as p`,
        [id, products.slice(0, 100).map((p) => p.id)],
      );
      expect(await failure(client.cart.addItem.mutate({ productId: products[100]!.id }))).toMatchObject({
        code: 'BAD_REQUEST',
        appCode: 'CART_FULL',
      });
      // Adding to a line already there is still fine.
      expect((await client.cart.addItem.mutate({ productId: products[0]!.id })).lines).toHaveLength(100);
      await client.cart.clear.mutate();
    });

    it('flags lines whose price or availability changed since they were added', async () => {
      const { client } = await customer();
      const p = await createProduct(api.db.url, { priceCents: 1000, stock: 3 });
      const q = await createProduct(api.db.url, { priceCents: 1000, stock: 3 });
      await client.cart.addItem.mutate({ productId: p.id, quantity: 2 });
      await client.cart.addItem.mutate({ productId: q.id, quantity: 1 });
      await sql(api.db.url, 'update product set price_cents = 1200, stock = 1 where id = $1', [p.id]);
      await sql(api.db.url, 'update product set archived_at = now() where id = $1', [q.id]);
      const cart = await client.cart.get.query();
      expect(cart.lines).toEqual([
        expect.objectContaining({
          productId: p.id,
          unitPriceCents: 1200,
          previousPriceCents: 1000,
          priceChanged: true,
          insufficientStock: true,
          available: true,
        }),
        expect.objectContaining({ productId: q.id, available: false, priceChanged: false }),
      ]);
      // The archived line is left out of the totals; checkout is not ready.
      expect(cart).toMatchObject({ subtotalCents: 2400, itemCount: 2, checkoutReady: false });
      // Correct the ledger for the stock set by hand above.
      await sql(
        api.db.url,
        `insert into stock_adjustment (id, product_id, delta, reason, at) values (gen_random_uuid(), $1, -2, 'correction', now())`,
        [p.id],
      );
    });
  });

  describe('checkout and payment', () => {
    it('turns the cart into a pending order with price snapshots, then the worker takes the payment', async () => {
      const { client, email } = await customer();
      const p = await createProduct(api.db.url, { priceCents: 1999, stock: 5, name: 'Walnut Tray' });
      await client.cart.addItem.mutate({ productId: p.id, quantity: 2 });
      const order = await client.orders.checkout.mutate({ idempotencyKey: key(), paymentToken: 'tok_visa' });
      expect(order).toMatchObject({
        status: 'pending_payment',
        subtotalCents: 3998,
        taxCents: 330, // 329.835 → 330
        totalCents: 4328,
        lines: [
          { productId: p.id, productName: 'Walnut Tray', unitPriceCents: 1999, quantity: 2, lineTotalCents: 3998 },
        ],
      });
      expect(await stockOf(p.id)).toBe(3);
      expect((await client.cart.get.query()).lines).toEqual([]);
      // A later price change never touches the order.
      await sql(api.db.url, 'update product set price_cents = 1 where id = $1', [p.id]);

      const paid = await eventually(async () => {
        const o = await client.orders.get.query({ id: order.id });
        return o.status === 'paid' ? o : null;
      });
      expect(paid.totalCents).toBe(4328);
      expect(paid.history.map((h) => [h.fromStatus, h.toStatus, h.actor])).toEqual([
        [null, 'pending_payment', 'customer'],
        ['pending_payment', 'paid', 'system'],
      ]);
      const mail = await smtp.waitFor(email, (m) => m.text.includes('confirmed'));
      expect(mail.text).toContain('43.28 USD');
      const ledger = await sql<{ operation: string; amount_cents: number }>(
        api.db.url,
        `select operation, amount_cents::int from payment_sandbox_operation where idempotency_key like $1 order by created_at`,
        [`order_${order.id}%`],
      );
      expect(ledger).toEqual([
        { operation: 'authorize', amount_cents: 4328 },
        { operation: 'capture', amount_cents: 4328 },
      ]);
    });

    it('a declined card fails the order and returns its stock', async () => {
      const { client, email } = await customer();
      const p = await createProduct(api.db.url, { priceCents: 700, stock: 4 });
      await client.cart.addItem.mutate({ productId: p.id, quantity: 3 });
      const order = await client.orders.checkout.mutate({ idempotencyKey: key(), paymentToken: 'tok_chargeDeclined' });
      // (Not asserting the reserved stock here: the worker may decline and return it before we look.)
      const failed = await eventually(async () => {
        const o = await client.orders.get.query({ id: order.id });
        return o.status === 'payment_failed' ? o : null;
      });
      expect(failed.paymentError).toBe('Your card was declined.');
      expect(await stockOf(p.id)).toBe(4);
      await smtp.waitFor(email, (m) => m.text.includes('could not take the payment'));
    });

    it('returns the stock of a declined order exactly once, however often the capture job runs', async () => {
      const { client } = await customer();
      const p = await createProduct(api.db.url, { priceCents: 700, stock: 4 });
      await client.cart.addItem.mutate({ productId: p.id, quantity: 2 });
      const order = await client.orders.checkout.mutate({ idempotencyKey: key(), paymentToken: 'tok_chargeDeclined' });
      // Four more runs of the same job, racing the first (a retry after a crash looks the same).
      await sql(
        api.db.url,
        `select graphile_worker.add_job('payment__capture', json_build_object('orderId', $1::text)) from generate_series(1, 4)`,
        [order.id],
      );
      await eventually(async () => {
        const jobs = (await queuedJobs(api.db.url)).filter(
          (j) => (j.payload as { orderId?: string }).orderId === order.id,
        );
        return jobs.length === 0;
      });
      expect((await client.orders.get.query({ id: order.id })).status).toBe('payment_failed');
      expect(await stockOf(p.id)).toBe(4);
      const events = await sql(api.db.url, 'select to_status from order_event where order_id = $1 order by id', [
        order.id,
      ]);
      expect(events).toEqual([{ to_status: 'pending_payment' }, { to_status: 'payment_failed' }]);
    });

    it('retries a transient processing error with back-off and ends paid', async () => {
      const { client } = await customer();
      const p = await createProduct(api.db.url, { priceCents: 1500, stock: 2 });
      await client.cart.addItem.mutate({ productId: p.id });
      const order = await client.orders.checkout.mutate({ idempotencyKey: key(), paymentToken: 'tok_processingError' });
      // graphile-worker's back-off after the first failure is e^1 ≈ 2.7 s.
      await eventually(async () => (await client.orders.get.query({ id: order.id })).status === 'paid', 15_000);
      const [auth] = await sql<{ failures: number; status: string }>(
        api.db.url,
        'select failures, status from payment_sandbox_operation where idempotency_key = $1',
        [`order_${order.id}_authorize`],
      );
      // One transient failure recorded, then success under the same idempotency key.
      expect(auth).toEqual({ failures: 1, status: 'succeeded' });
      const [event] = await sql<{ count: string }>(
        api.db.url,
        `select count(*) from order_event where order_id = $1 and to_status = 'paid'`,
        [order.id],
      );
      expect(event?.count).toBe('1');
    });

    it('refuses an out-of-stock cart naming the lines, and changes nothing', async () => {
      const { client, id } = await customer();
      const plenty = await createProduct(api.db.url, { priceCents: 100, stock: 10 });
      const scarce = await createProduct(api.db.url, { priceCents: 100, stock: 1, name: 'Rare Vase' });
      await client.cart.addItem.mutate({ productId: plenty.id, quantity: 2 });
      await client.cart.addItem.mutate({ productId: scarce.id, quantity: 3 });
      const err = await failure(client.orders.checkout.mutate({ idempotencyKey: key(), paymentToken: 'tok_visa' }));
      expect(err).toMatchObject({
        code: 'CONFLICT',
        appCode: 'OUT_OF_STOCK',
        details: { lines: [{ productId: scarce.id, name: 'Rare Vase', requested: 3, available: 1 }] },
      });
      expect([await stockOf(plenty.id), await stockOf(scarce.id)]).toEqual([10, 1]);
      expect((await client.cart.get.query()).lines).toHaveLength(2);
      expect(await sql(api.db.url, 'select id from store_order where user_id = $1', [id])).toEqual([]);
      expect(await sql(api.db.url, 'select id from checkout_idempotency_key where user_id = $1', [id])).toEqual([]);
    });

    it('refuses an empty cart, archived lines and a moved total', async () => {
      const { client } = await customer();
      expect(
        await failure(client.orders.checkout.mutate({ idempotencyKey: key(), paymentToken: 'tok_visa' })),
      ).toMatchObject({ code: 'BAD_REQUEST', appCode: 'CART_EMPTY' });
      const p = await createProduct(api.db.url, { priceCents: 1000, stock: 5 });
      await client.cart.addItem.mutate({ productId: p.id });
      expect(
        await failure(
          client.orders.checkout.mutate({ idempotencyKey: key(), paymentToken: 'tok_visa', expectedTotalCents: 999 }),
        ),
      ).toMatchObject({ code: 'CONFLICT', appCode: 'PRICE_CHANGED', details: { totalCents: 1083 } });
      await sql(api.db.url, 'update product set archived_at = now() where id = $1', [p.id]);
      expect(
        await failure(client.orders.checkout.mutate({ idempotencyKey: key(), paymentToken: 'tok_visa' })),
      ).toMatchObject({ code: 'CONFLICT', appCode: 'PRODUCT_UNAVAILABLE' });
      expect(await stockOf(p.id)).toBe(5);
      for (const bad of [
        { idempotencyKey: 'short', paymentToken: 'tok_visa' },
        { idempotencyKey: key(), paymentToken: '' },
      ]) {
        expect(await failure(client.orders.checkout.mutate(bad))).toMatchObject({ code: 'BAD_REQUEST' });
      }
    });
  });

  describe('idempotency', () => {
    it('20 concurrent checkouts with one key make one order and one payment', async () => {
      const { client, id } = await customer();
      const p = await createProduct(api.db.url, { priceCents: 2500, stock: 100 });
      await client.cart.addItem.mutate({ productId: p.id, quantity: 3 });
      const k = key();
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, () =>
          client.orders.checkout.mutate({ idempotencyKey: k, paymentToken: 'tok_visa' }),
        ),
      );
      const ids = new Set(
        results.map((r) => (r.status === 'fulfilled' ? r.value.id : `rejected: ${String(r.reason)}`)),
      );
      expect([...ids]).toHaveLength(1);
      const [orderId] = [...ids] as [string];
      expect(await sql(api.db.url, 'select id from store_order where user_id = $1', [id])).toEqual([{ id: orderId }]);
      expect(await stockOf(p.id)).toBe(97);
      await eventually(async () => (await client.orders.get.query({ id: orderId })).status === 'paid');
      const captures = await sql(
        api.db.url,
        `select 1 from payment_sandbox_operation where operation = 'capture' and idempotency_key like $1`,
        [`order_${orderId}%`],
      );
      expect(captures).toHaveLength(1);

      // A retry later returns the same order; the same key for a different cart is refused.
      expect((await client.orders.checkout.mutate({ idempotencyKey: k, paymentToken: 'tok_visa' })).id).toBe(orderId);
      await client.cart.addItem.mutate({ productId: p.id, quantity: 1 });
      expect(
        await failure(client.orders.checkout.mutate({ idempotencyKey: k, paymentToken: 'tok_visa' })),
      ).toMatchObject({
        code: 'CONFLICT',
        appCode: 'IDEMPOTENCY_KEY_REUSED',
      });
      // Nor may it be replayed with another payment token, even with the emptied cart.
      await client.cart.clear.mutate();
      expect(
        await failure(client.orders.checkout.mutate({ idempotencyKey: k, paymentToken: 'tok_other' })),
      ).toMatchObject({ code: 'CONFLICT', appCode: 'IDEMPOTENCY_KEY_REUSED' });
      // Keys are per customer: another customer's identical key is theirs alone.
      const other = await customer();
      await other.client.cart.addItem.mutate({ productId: p.id, quantity: 1 });
      expect((await other.client.orders.checkout.mutate({ idempotencyKey: k, paymentToken: 'tok_visa' })).id).not.toBe(
        orderId,
      );
      const [kept] = await sql<{ hours: number }>(
        api.db.url,
        `select round(extract(epoch from expires_at - created_at) / 3600) as hours from checkout_idempotency_key where key = $1 limit 1`,
        [k],
      );
      expect(Number(kept?.hours)).toBeGreaterThanOrEqual(24);
    });
  });

  describe('oversell', () => {
    it('200 concurrent checkouts for 50 units: exactly 50 orders, the rest a clean CONFLICT', async () => {
      const p = await createProduct(api.db.url, { priceCents: 999, stock: 50 });
      const users = await createUsers(api.db.url, 200, { prefix: 'rush' });
      const clients = users.map((u) => api.newClient({ token: () => u.token }));
      await Promise.all(clients.map((c) => c.cart.addItem.mutate({ productId: p.id, quantity: 1 })));
      const results = await Promise.allSettled(
        clients.map((c, i) =>
          c.orders.checkout.mutate({ idempotencyKey: `rush-${i}-${key()}`, paymentToken: 'tok_visa' }),
        ),
      );
      const ok = results.filter((r) => r.status === 'fulfilled');
      const errors = results.flatMap((r) =>
        r.status === 'rejected' ? [r.reason as { data?: { code: string; appCode: string } }] : [],
      );
      expect(ok).toHaveLength(50);
      expect(errors).toHaveLength(150);
      expect(new Set(errors.map((e) => `${e.data?.code}/${e.data?.appCode}`))).toEqual(
        new Set(['CONFLICT/OUT_OF_STOCK']),
      );
      expect(await stockOf(p.id)).toBe(0);
      const [orders] = await sql<{ count: string; units: string }>(
        api.db.url,
        `select count(distinct o.id) as count, sum(l.quantity) as units from store_order o join order_line l on l.order_id = o.id where l.product_id = $1`,
        [p.id],
      );
      expect(orders).toEqual({ count: '50', units: '50' });
    });
  });

  describe('deadlocks', () => {
    it('checkouts locking two products in opposite cart orders never deadlock', async () => {
      const x = await createProduct(api.db.url, { priceCents: 100, stock: 20 });
      const y = await createProduct(api.db.url, { priceCents: 100, stock: 20 });
      const users = await createUsers(api.db.url, 60, { prefix: 'pair' });
      const clients = users.map((u) => api.newClient({ token: () => u.token }));
      // Half add x then y, half y then x: lock order must not follow cart order.
      for (const [i, c] of clients.entries()) {
        for (const p of i % 2 ? [x, y] : [y, x]) await c.cart.addItem.mutate({ productId: p.id, quantity: 1 });
      }
      const results = await Promise.allSettled(
        clients.map((c) => c.orders.checkout.mutate({ idempotencyKey: key(), paymentToken: 'tok_visa' })),
      );
      const errors = results.flatMap((r) =>
        r.status === 'rejected' ? [(r.reason as { data?: { appCode: string } }).data?.appCode] : [],
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(20);
      expect(new Set(errors)).toEqual(new Set(['OUT_OF_STOCK']));
      expect([await stockOf(x.id), await stockOf(y.id)]).toEqual([0, 0]);
    });
  });

  describe('order lifecycle', () => {
    async function paidOrder(client: KeelsonClient, productId: string) {
      await client.cart.addItem.mutate({ productId, quantity: 1 });
      const order = await client.orders.checkout.mutate({ idempotencyKey: key(), paymentToken: 'tok_visa' });
      await eventually(async () => (await client.orders.get.query({ id: order.id })).status === 'paid');
      return order;
    }

    it('ships, delivers and refunds through the admin, recording who did what', async () => {
      const { client, email } = await customer();
      const p = await createProduct(api.db.url, { priceCents: 1200, stock: 5 });
      const order = await paidOrder(client, p.id);
      expect(await failure(admin.orders.markDelivered.mutate({ id: order.id }))).toMatchObject({
        code: 'CONFLICT',
        appCode: 'ILLEGAL_TRANSITION',
        details: { from: 'paid', to: 'delivered' },
      });
      await admin.orders.markShipped.mutate({ id: order.id, note: 'DHL 123' });
      await smtp.waitFor(email, (m) => m.text.includes('on its way'));
      expect(await failure(client.orders.cancel.mutate({ id: order.id }))).toMatchObject({ code: 'CONFLICT' });
      await admin.orders.markDelivered.mutate({ id: order.id });
      const refunded = await admin.orders.refund.mutate({ id: order.id });
      expect(refunded.status).toBe('refunded');
      expect(refunded.history.map((h) => [h.toStatus, h.actor, h.note])).toEqual([
        ['pending_payment', 'customer', null],
        ['paid', 'system', null],
        ['shipped', 'admin', 'DHL 123'],
        ['delivered', 'admin', null],
        ['refunded', 'admin', null],
      ]);
      await eventually(async () => (await client.orders.get.query({ id: order.id })).refunded);
      // Delivered goods do not come back to the shelf.
      expect(await stockOf(p.id)).toBe(4);
      expect(await failure(admin.orders.refund.mutate({ id: order.id }))).toMatchObject({ code: 'CONFLICT' });
    });

    it('a customer cancels: a pending order returns its stock, a paid one is refunded too', async () => {
      const { client } = await customer();
      const p = await createProduct(api.db.url, { priceCents: 800, stock: 5 });
      const paid = await paidOrder(client, p.id);
      expect(await stockOf(p.id)).toBe(4);
      expect((await client.orders.cancel.mutate({ id: paid.id })).status).toBe('cancelled');
      expect(await stockOf(p.id)).toBe(5);
      await eventually(async () => (await client.orders.get.query({ id: paid.id })).refunded);
      const refunds = await sql(
        api.db.url,
        `select amount_cents::int from payment_sandbox_operation where idempotency_key = $1`,
        [`order_${paid.id}_refund`],
      );
      expect(refunds).toEqual([{ amount_cents: 866 }]);
      expect(await failure(client.orders.cancel.mutate({ id: paid.id }))).toMatchObject({
        code: 'CONFLICT',
        appCode: 'ILLEGAL_TRANSITION',
      });
    });

    it('keeps customers to their own orders and lets admins filter all of them', async () => {
      const a = await customer();
      const b = await customer();
      const p = await createProduct(api.db.url, { priceCents: 300, stock: 5 });
      const order = await paidOrder(a.client, p.id);
      expect(await failure(b.client.orders.get.query({ id: order.id }))).toMatchObject({ code: 'NOT_FOUND' });
      expect(await failure(b.client.orders.cancel.mutate({ id: order.id }))).toMatchObject({ code: 'NOT_FOUND' });
      expect((await b.client.orders.list.query({})).items).toEqual([]);
      expect((await a.client.orders.list.query({})).items.map((o) => o.id)).toEqual([order.id]);
      const byCustomer = await admin.orders.listAll.query({ userId: a.id, status: 'paid' });
      expect(byCustomer.items.map((o) => o.id)).toEqual([order.id]);
      const future = await admin.orders.listAll.query({ from: new Date(Date.now() + 60_000) });
      expect(future.items).toEqual([]);
      expect(await failure(a.client.orders.listAll.query({}))).toMatchObject({ code: 'FORBIDDEN' });
    });
  });
});
