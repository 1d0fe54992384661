/**
 * The payment side of an order, run by the worker's `payment__capture` and `payment__refund` jobs.
 * Provider calls happen outside any database transaction (a slow provider never holds row locks);
 * each carries an idempotency key derived from the order, so a retried job repeats nothing the
 * provider already did. Outcomes are then recorded through the state machine, which makes each one
 * happen exactly once whatever the number of retries.
 */
import type { OrderStatus } from '@keelson/db';
import { enqueue } from '@keelson/jobs';
import { PaymentDeclinedError, type PaymentProvider } from '@keelson/payments';
import type { EntityManager } from '@mikro-orm/postgresql';
import { returnStock } from './orders.ts';
import { canTransition, transition } from './stateMachine.ts';

const SYSTEM = { type: 'system', userId: null } as const;

interface PaymentRow {
  status: OrderStatus;
  total_cents: number;
  currency: string;
  payment_token: string | null;
  payment_authorization_id: string | null;
  payment_capture_id: string | null;
  payment_refund_id: string | null;
}

/** The order's payment columns; inside a transaction, locked until it ends. */
async function paymentRow(em: EntityManager, orderId: string): Promise<PaymentRow | undefined> {
  const inTx = em.isInTransaction();
  const [row] = await em.getConnection().execute<PaymentRow[]>(
    `select status, total_cents, currency, payment_token, payment_authorization_id, payment_capture_id,
            payment_refund_id from store_order where id = ?${inTx ? ' for update' : ''}`,
    [orderId],
    'all',
    em.getTransactionContext(),
  );
  return row;
}

export type CaptureOutcome = 'paid' | 'declined' | 'refunded_after_cancel' | 'skipped';

/**
 * Authorizes and captures an order's total. Transient provider errors propagate, so the job is retried
 * with back-off. A decline moves the order to `payment_failed` and returns its stock, in one
 * transaction guarded by the state machine: a retried job finds the order no longer pending and does
 * nothing, so the stock comes back exactly once. If the customer cancelled while the money was being
 * taken, the captured amount is refunded (the cancellation already returned the stock).
 */
export async function capturePayment(
  em: EntityManager,
  provider: PaymentProvider,
  orderId: string,
): Promise<CaptureOutcome> {
  const order = await paymentRow(em, orderId);
  if (!order || order.status !== 'pending_payment' || !order.payment_token) return 'skipped';
  const amount = { amountCents: order.total_cents, currency: order.currency };

  let authorizationId = order.payment_authorization_id;
  try {
    if (!authorizationId) {
      ({ authorizationId } = await provider.authorize({
        ...amount,
        token: order.payment_token,
        idempotencyKey: `order_${orderId}_authorize`,
      }));
      await em
        .getConnection()
        .execute('update store_order set payment_authorization_id = ? where id = ?', [authorizationId, orderId]);
    }
  } catch (err) {
    if (!(err instanceof PaymentDeclinedError)) throw err;
    const failed = await em.transactional(async (tx) => {
      const current = await paymentRow(tx, orderId);
      if (!current || !canTransition(current.status, 'payment_failed')) return false;
      await transition(tx, {
        orderId,
        to: 'payment_failed',
        actor: SYSTEM,
        note: `${err.reason}: ${err.message}`,
        extra: { payment_error: err.message, payment_token: null },
      });
      await returnStock(tx, orderId);
      await enqueue(tx, 'email__order_status', { orderId, status: 'payment_failed' });
      return true;
    });
    return failed ? 'declined' : 'skipped';
  }

  const { captureId } = await provider.capture({
    ...amount,
    authorizationId,
    idempotencyKey: `order_${orderId}_capture`,
  });
  return em.transactional(async (tx) => {
    const current = await paymentRow(tx, orderId);
    if (!current) return 'skipped';
    if (canTransition(current.status, 'paid')) {
      await transition(tx, {
        orderId,
        to: 'paid',
        actor: SYSTEM,
        extra: { payment_capture_id: captureId, payment_token: null },
      });
      await enqueue(tx, 'email__order_status', { orderId, status: 'paid' });
      return 'paid';
    }
    // Another run of this job got there first (same capture: the provider deduplicated it).
    if (current.status !== 'cancelled' || current.payment_capture_id) return 'skipped';
    // Cancelled while we were capturing: keep the capture on record and give the money back.
    await tx
      .getConnection()
      .execute(
        'update store_order set payment_capture_id = ?, payment_token = null where id = ?',
        [captureId, orderId],
        'run',
        tx.getTransactionContext(),
      );
    await enqueue(tx, 'payment__refund', { orderId });
    return 'refunded_after_cancel';
  });
}

/** Refunds an order's captured total once (the provider deduplicates by key; the id is recorded). */
export async function refundPayment(
  em: EntityManager,
  provider: PaymentProvider,
  orderId: string,
): Promise<'refunded' | 'nothing_captured' | 'already_refunded'> {
  const order = await paymentRow(em, orderId);
  if (!order?.payment_capture_id) return 'nothing_captured';
  if (order.payment_refund_id) return 'already_refunded';
  const { refundId } = await provider.refund({
    captureId: order.payment_capture_id,
    amountCents: order.total_cents,
    currency: order.currency,
    idempotencyKey: `order_${orderId}_refund`,
  });
  await em
    .getConnection()
    .execute('update store_order set payment_refund_id = ? where id = ? and payment_refund_id is null', [
      refundId,
      orderId,
    ]);
  return 'refunded';
}
