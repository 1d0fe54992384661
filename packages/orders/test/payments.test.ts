/**
 * The payment flows the worker runs, driven directly against a real database and the sandbox provider,
 * including the awkward interleavings a worker crash or a customer's cancel can produce. Every test
 * ends with the stock ledger balanced.
 */
import {
  createSandboxProvider,
  PaymentDeclinedError,
  type PaymentProvider,
  PaymentTransientError,
} from '@keelson/payments';
import {
  createProduct,
  createUsers,
  queuedJobs,
  sql,
  stockDiscrepancies,
  testConfig,
  useTestOrm,
} from '@keelson/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  addCartItem,
  cancelOrder,
  capturePayment,
  checkout,
  expirePendingPayments,
  getOrder,
  refundPayment,
} from '../src/index.ts';

describe('payments', () => {
  const t = useTestOrm({ poolMax: 12 });
  const fork = () => t.orm.em.fork();
  const sandbox = () => createSandboxProvider(t.orm, { transientFailures: 0 });

  afterEach(async () => {
    expect(await stockDiscrepancies(t.db.url)).toEqual([]);
  });

  /** A customer's pending order for `quantity` units of a fresh product with 5 in stock. */
  async function pendingOrder(paymentToken = 'tok_visa', quantity = 2) {
    const [user] = await createUsers(t.db.url, 1);
    const product = await createProduct(t.db.url, { priceCents: 1000, stock: 5 });
    await addCartItem(fork(), user!.id, { productId: product.id, quantity });
    const order = await checkout(fork(), {
      userId: user!.id,
      input: { idempotencyKey: `k-${crypto.randomUUID()}`, paymentToken },
      settings: testConfig().commerce,
    });
    return { user: user!, product, order };
  }
  const stockOf = async (id: string) =>
    (await sql<{ stock: number }>(t.db.url, 'select stock from product where id = $1', [id]))[0]!.stock;
  const ledger = (orderId: string) =>
    sql<{ operation: string; status: string; decline_reason: string | null }>(
      t.db.url,
      `select operation, status, decline_reason from payment_sandbox_operation where idempotency_key like $1 order by created_at`,
      [`order_${orderId}%`],
    );
  const jobsFor = async (orderId: string, task: string) =>
    (await queuedJobs(t.db.url)).filter(
      (j) => j.task === task && (j.payload as { orderId?: string }).orderId === orderId,
    );
  const cancel = (orderId: string, userId: string) =>
    cancelOrder(fork(), { orderId, ownerId: userId, actor: { type: 'customer', userId } });

  it('answers checkout with exactly the order it stored', async () => {
    const [user] = await createUsers(t.db.url, 1);
    for (const [priceCents, quantity] of [
      [1999, 2],
      [5, 99],
      [100_000_000, 1],
    ] as const) {
      const p = await createProduct(t.db.url, { priceCents, stock: 100 });
      await addCartItem(fork(), user!.id, { productId: p.id, quantity });
    }
    const order = await checkout(fork(), {
      userId: user!.id,
      input: { idempotencyKey: `k-${crypto.randomUUID()}`, paymentToken: 'tok_visa' },
      settings: testConfig({ TAX_RATE_BPS: '825' }).commerce,
    });
    expect(order.lines).toHaveLength(3);
    expect(order.totalCents).toBe(order.subtotalCents + order.taxCents);
    expect(await getOrder(fork(), order.id)).toEqual(order);
  });

  it('captures, marks paid once, and queues the confirmation email', async () => {
    const { order } = await pendingOrder();
    const results = await Promise.all([1, 2, 3].map(() => capturePayment(fork(), sandbox(), order.id)));
    expect(results.filter((r) => r === 'paid')).toHaveLength(1);
    expect((await getOrder(fork(), order.id)).status).toBe('paid');
    expect(await jobsFor(order.id, 'email__order_status')).toHaveLength(1);
    expect((await ledger(order.id)).map((r) => r.operation)).toEqual(['authorize', 'capture']);
  });

  it('a decline, however many runs race, fails the order and returns the stock once', async () => {
    const { order, product } = await pendingOrder('tok_chargeDeclined');
    expect(await stockOf(product.id)).toBe(3);
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => capturePayment(fork(), sandbox(), order.id)));
    expect(results.filter((r) => r === 'declined')).toHaveLength(1);
    expect(await stockOf(product.id)).toBe(5);
    const failed = await getOrder(fork(), order.id);
    expect(failed).toMatchObject({ status: 'payment_failed', paymentError: 'Your card was declined.' });
    expect(failed.history.map((h) => h.toStatus)).toEqual(['pending_payment', 'payment_failed']);
    // A replayed decline keeps its reason.
    const invalid = await pendingOrder('tok_unknown');
    await capturePayment(fork(), sandbox(), invalid.order.id);
    expect(await ledger(invalid.order.id)).toEqual([
      { operation: 'authorize', status: 'declined', decline_reason: 'invalid_token' },
    ]);
  });

  it('a transient failure throws (the job retries) and the retry succeeds under the same key', async () => {
    const { order } = await pendingOrder('tok_processingError');
    const flaky = createSandboxProvider(t.orm, { transientFailures: 2 });
    await expect(capturePayment(fork(), flaky, order.id)).rejects.toBeInstanceOf(PaymentTransientError);
    await expect(capturePayment(fork(), flaky, order.id)).rejects.toBeInstanceOf(PaymentTransientError);
    expect(await capturePayment(fork(), flaky, order.id)).toBe('paid');
    expect(await ledger(order.id)).toEqual([
      { operation: 'authorize', status: 'succeeded', decline_reason: null },
      { operation: 'capture', status: 'succeeded', decline_reason: null },
    ]);
  });

  it('a capture declined after authorization fails the order and voids the authorization', async () => {
    const { order, product } = await pendingOrder();
    const base = sandbox();
    const declining: PaymentProvider = {
      ...base,
      capture: async () => {
        throw new PaymentDeclinedError('expired_authorization', 'The authorization expired.');
      },
    };
    expect(await capturePayment(fork(), declining, order.id)).toBe('declined');
    expect(await stockOf(product.id)).toBe(5);
    expect(await jobsFor(order.id, 'payment__refund')).toHaveLength(1);
    expect(await refundPayment(fork(), base, order.id)).toBe('voided');
  });

  it('refunds money captured by a worker that died before recording it, once the customer cancels', async () => {
    const { order, user, product } = await pendingOrder();
    const base = sandbox();
    const dying: PaymentProvider = {
      ...base,
      capture: async (r) => {
        await base.capture(r);
        throw new Error('worker killed after capturing');
      },
    };
    await expect(capturePayment(fork(), dying, order.id)).rejects.toThrow('killed');
    await cancel(order.id, user.id);
    expect(await stockOf(product.id)).toBe(5);
    expect(await jobsFor(order.id, 'payment__refund')).toHaveLength(1);
    // The capture job's retry stands aside; the release job learns of the capture and refunds it.
    expect(await capturePayment(fork(), base, order.id)).toBe('skipped');
    expect(await refundPayment(fork(), base, order.id)).toBe('refunded');
    expect(await refundPayment(fork(), base, order.id)).toBe('already_refunded');
    expect((await ledger(order.id)).map((r) => `${r.operation}:${r.status}`)).toEqual([
      'authorize:succeeded',
      'capture:succeeded',
      'void:succeeded',
      'refund:succeeded',
    ]);
    expect((await getOrder(fork(), order.id)).refunded).toBe(true);
  });

  it('voids an authorization whose capture had not happened when the customer cancelled', async () => {
    const { order, user } = await pendingOrder();
    const base = sandbox();
    const stalled: PaymentProvider = {
      ...base,
      capture: async () => {
        throw new PaymentTransientError('processing_error');
      },
    };
    await expect(capturePayment(fork(), stalled, order.id)).rejects.toBeInstanceOf(PaymentTransientError);
    await cancel(order.id, user.id);
    expect(await refundPayment(fork(), base, order.id)).toBe('voided');
    // The voided authorization can no longer be captured; a late capture job stands aside anyway.
    const [row] = await sql<{ payment_authorization_id: string }>(
      t.db.url,
      'select payment_authorization_id from store_order where id = $1',
      [order.id],
    );
    await expect(
      base.capture({
        authorizationId: row!.payment_authorization_id,
        amountCents: order.totalCents,
        currency: 'USD',
        idempotencyKey: `order_${order.id}_capture`,
      }),
    ).rejects.toMatchObject({ reason: 'authorization_voided' });
    expect(await capturePayment(fork(), base, order.id)).toBe('skipped');
    expect((await getOrder(fork(), order.id)).refunded).toBe(false);
  });

  it('hands money captured after the order was cancelled to the release job', async () => {
    const { order, user } = await pendingOrder();
    const base = sandbox();
    let cancelled = false;
    const slow: PaymentProvider = {
      ...base,
      capture: async (r) => {
        // The customer cancels while the provider is taking the money.
        if (!cancelled) {
          cancelled = true;
          await cancel(order.id, user.id);
        }
        return base.capture(r);
      },
    };
    expect(await capturePayment(fork(), slow, order.id)).toBe('released');
    expect(await refundPayment(fork(), base, order.id)).toBe('refunded');
    expect((await getOrder(fork(), order.id)).status).toBe('cancelled');
  });

  it('fails orders left unpaid past the timeout, and only those', async () => {
    const stale = await pendingOrder();
    const fresh = await pendingOrder();
    await sql(t.db.url, `update store_order set created_at = now() - interval '25 hours' where id = $1`, [
      stale.order.id,
    ]);
    expect(await expirePendingPayments(fork(), 24 * 3_600_000)).toBe(1);
    expect((await getOrder(fork(), stale.order.id)).status).toBe('payment_failed');
    expect((await getOrder(fork(), fresh.order.id)).status).toBe('pending_payment');
    expect(await stockOf(stale.product.id)).toBe(5);
    expect(await expirePendingPayments(fork(), 24 * 3_600_000)).toBe(0);
  });
});
