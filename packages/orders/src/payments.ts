/**
 * The payment side of an order, run by the worker's `payment__capture` and `payment__refund` jobs.
 * Provider calls happen outside any database transaction (a slow provider never holds row locks);
 * each carries an idempotency key derived from the order, so a retried job repeats nothing the
 * provider already did. Outcomes are then recorded through the state machine, which makes each one
 * happen exactly once whatever the number of retries.
 *
 * The capture job owns the money while an order is `pending_payment`. Once an order no longer wants
 * it (cancelled, or failed by decline or timeout), `payment__refund` gives back whatever was taken:
 * it refunds a capture, or voids an authorization (learning from the provider if it was captured
 * after all, as when a worker died between capturing and recording it).
 */
import type { Database, OrderStatus } from '@keelson/db';
import { enqueue } from '@keelson/jobs';
import { PaymentDeclinedError, type PaymentProvider } from '@keelson/payments';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { returnStock } from './orders.ts';
import { canTransition, transition } from './stateMachine.ts';

const SYSTEM = { type: 'system', userId: null } as const;

/** Statuses in which an order must not keep any money it took. */
const RELEASED: readonly OrderStatus[] = ['cancelled', 'payment_failed'];

/** Typed SQL on the entities' tables, in `em`'s transaction when it has one. */
const kysely = (em: EntityManager) => em.getKysely<Database>();

interface PaymentRow {
  status: OrderStatus;
  /** bigint: the driver returns a string, whatever the entity's type says; read it with Number(). */
  total_cents: number | string;
  currency: string;
  payment_token: string | null;
  payment_authorization_id: string | null;
  payment_capture_id: string | null;
  payment_refund_id: string | null;
}

/** The order's payment columns; inside a transaction, locked until it ends. */
async function paymentRow(em: EntityManager, orderId: string): Promise<PaymentRow | undefined> {
  const query = kysely(em)
    .selectFrom('store_order')
    .select(['status', 'total_cents', 'currency', 'payment_token', 'payment_authorization_id'])
    .select(['payment_capture_id', 'payment_refund_id'])
    .where('id', '=', orderId);
  return (em.isInTransaction() ? query.forUpdate() : query).executeTakeFirst();
}

/** Records a provider id on the order; only the first sticks (a repeated key returns the same one anyway). */
async function recordId(
  em: EntityManager,
  orderId: string,
  id: { authorization: string } | { capture: string } | { refund: string },
): Promise<void> {
  const [column, value] =
    'authorization' in id
      ? (['payment_authorization_id', id.authorization] as const)
      : 'capture' in id
        ? (['payment_capture_id', id.capture] as const)
        : (['payment_refund_id', id.refund] as const);
  await kysely(em)
    .updateTable('store_order')
    .set(column, value)
    .where('id', '=', orderId)
    .where(column, 'is', null)
    .execute();
}

/**
 * Fails a pending order for good: `payment_failed`, stock returned, the customer told, and anything
 * the provider holds released. Does nothing (returns false) if the order is no longer pending.
 */
export async function failPayment(em: EntityManager, orderId: string, reason: string): Promise<boolean> {
  return em.transactional(async (tx) => {
    const current = await paymentRow(tx, orderId);
    if (!current || !canTransition(current.status, 'payment_failed')) return false;
    await transition(tx, {
      orderId,
      to: 'payment_failed',
      actor: SYSTEM,
      note: reason,
      extra: { payment_error: reason, payment_token: null },
    });
    await returnStock(tx, orderId);
    await enqueue(tx, 'email__order_status', { orderId, status: 'payment_failed' });
    if (current.payment_authorization_id) await enqueue(tx, 'payment__refund', { orderId });
    return true;
  });
}

export type CaptureOutcome = 'paid' | 'declined' | 'released' | 'skipped';

/**
 * Authorizes and captures an order's total. Transient provider errors propagate, so the job is retried
 * with back-off. A decline (at authorization or capture) fails the order and returns its stock, once:
 * a retried job finds the order no longer pending. If the order was cancelled or failed while the
 * money was being taken, the capture is recorded and handed to `payment__refund`.
 */
export async function capturePayment(
  em: EntityManager,
  provider: PaymentProvider,
  orderId: string,
): Promise<CaptureOutcome> {
  const order = await paymentRow(em, orderId);
  if (order?.status !== 'pending_payment' || !order.payment_token) return 'skipped';
  const amount = { amountCents: Number(order.total_cents), currency: order.currency };

  let captureId: string;
  try {
    let authorizationId = order.payment_authorization_id;
    if (!authorizationId) {
      ({ authorizationId } = await provider.authorize({
        ...amount,
        token: order.payment_token,
        idempotencyKey: `order_${orderId}_authorize`,
      }));
      await recordId(em, orderId, { authorization: authorizationId });
    }
    ({ captureId } = await provider.capture({
      ...amount,
      authorizationId,
      idempotencyKey: `order_${orderId}_capture`,
    }));
  } catch (err) {
    if (!(err instanceof PaymentDeclinedError)) throw err;
    return (await failPayment(em, orderId, err.message)) ? 'declined' : 'skipped';
  }

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
    // Another run of this job already recorded this capture (the provider deduplicated it).
    if (!RELEASED.includes(current.status) || current.payment_capture_id) return 'skipped';
    // Cancelled or failed while we were capturing: keep the capture on record and give the money back.
    await recordId(tx, orderId, { capture: captureId });
    await enqueue(tx, 'payment__refund', { orderId });
    return 'released';
  });
}

export type ReleaseOutcome = 'refunded' | 'voided' | 'already_refunded' | 'nothing_taken' | 'not_released';

/**
 * Gives back what an order took from the customer: refunds its capture, or voids its authorization
 * (refunding instead if the provider says it was captured). Idempotent: each provider call has a key
 * derived from the order, and the refund id is recorded once. Only for orders that no longer want the
 * money (cancelled, payment failed, refunded).
 */
export async function refundPayment(
  em: EntityManager,
  provider: PaymentProvider,
  orderId: string,
): Promise<ReleaseOutcome> {
  const order = await paymentRow(em, orderId);
  if (!order || !(RELEASED.includes(order.status) || order.status === 'refunded')) return 'not_released';
  if (order.payment_refund_id) return 'already_refunded';
  let captureId = order.payment_capture_id;
  if (!captureId) {
    if (!order.payment_authorization_id) return 'nothing_taken';
    const voided = await provider.void({
      authorizationId: order.payment_authorization_id,
      idempotencyKey: `order_${orderId}_void`,
    });
    if (voided.status === 'voided') return 'voided';
    captureId = voided.captureId;
    await recordId(em, orderId, { capture: captureId });
  }
  const { refundId } = await provider.refund({
    captureId,
    amountCents: Number(order.total_cents),
    currency: order.currency,
    idempotencyKey: `order_${orderId}_refund`,
  });
  await recordId(em, orderId, { refund: refundId });
  return 'refunded';
}

/**
 * Fails orders whose payment has not completed within `timeoutMs` (the capture job gave up, or the
 * worker was down): their stock goes back on sale. Run by the hourly `payment__expire_pending` cron task.
 */
export async function expirePendingPayments(em: EntityManager, timeoutMs: number): Promise<number> {
  const stale = await kysely(em)
    .selectFrom('store_order')
    .select('id')
    .where('status', '=', 'pending_payment')
    .where('created_at', '<', sql<Date>`now() - ${timeoutMs} * interval '1 millisecond'`)
    .orderBy('id')
    .limit(500)
    .execute();
  let failed = 0;
  for (const { id } of stale) {
    if (await failPayment(em, id, 'The payment did not complete in time.')) failed++;
  }
  return failed;
}
