/**
 * The order state machine, the only code that changes `store_order.status`.
 *
 *   pending_payment ──▶ paid ──▶ shipped ──▶ delivered
 *        │   │           │          │            │
 *        │   └──▶ cancelled ◀┘      └──▶ refunded ◀┘
 *        └──▶ payment_failed
 *
 * `cancelled` returns the stock (and refunds a paid order); `payment_failed` returns the stock;
 * `refunded` gives the money back for goods that have left the warehouse (no restock).
 */
import { type Database, type OrderActor, type OrderStatus, rowDate, uuidv7 } from '@keelson/db';
import { AppError } from '@keelson/errors';
import { notifyOrderStatus } from '@keelson/notifications';
import { publishEvent } from '@keelson/realtime';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';

export const transitions: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  pending_payment: ['paid', 'payment_failed', 'cancelled'],
  paid: ['shipped', 'cancelled'],
  shipped: ['delivered', 'refunded'],
  delivered: ['refunded'],
  cancelled: [],
  payment_failed: [],
  refunded: [],
};

export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
  return transitions[from].includes(to);
}

export interface Actor {
  type: OrderActor;
  /** Null for the system (the worker). */
  userId: string | null;
}

/** The columns a transition may set along with the status (never caller-chosen names). */
type PaymentColumn = 'payment_token' | 'payment_error' | 'payment_capture_id';

export interface TransitionResult {
  from: OrderStatus;
  to: OrderStatus;
}

/**
 * Moves an order to `to`, inside the caller's transaction: locks the order row, checks the move is
 * legal from its current status, updates it and records who did it. `ownerId` limits the lookup to
 * one customer's orders (another's answers ORDER_NOT_FOUND, as if it did not exist). `extra` columns
 * are set in the same update. Publishes the change and, for the statuses a customer is told of (paid,
 * shipped, payment failed), files their notification. Here, because this is the one place every
 * status change passes, whichever job, retry or admin caused it, and an order reaches each of those
 * statuses at most once (the notification's event key makes a second filing a no-op all the same).
 */
export async function transition(
  tx: EntityManager,
  change: {
    orderId: string;
    to: OrderStatus;
    actor: Actor;
    ownerId?: string;
    note?: string | null;
    extra?: Partial<Record<PaymentColumn, string | null>>;
  },
): Promise<TransitionResult> {
  if (!tx.isInTransaction()) throw new Error('transition() must run inside a transaction');
  const db = tx.getKysely<Database>();
  // total_cents is bigint: the driver returns a string (read with Number()).
  const row = await db
    .selectFrom('store_order')
    .select(['status', 'user_id', 'total_cents', 'currency'])
    .where('id', '=', change.orderId)
    .forUpdate()
    .executeTakeFirst();
  if (!row || (change.ownerId && row.user_id !== change.ownerId)) {
    throw new AppError('ORDER_NOT_FOUND', { details: { id: change.orderId } });
  }
  if (!canTransition(row.status, change.to)) {
    throw new AppError('ILLEGAL_TRANSITION', {
      message: `An order that is ${row.status.replace('_', ' ')} cannot become ${change.to.replace('_', ' ')}.`,
      details: { id: change.orderId, from: row.status, to: change.to },
    });
  }
  await db
    .updateTable('store_order')
    .set({ ...change.extra, status: change.to, updated_at: sql`now()` })
    .where('id', '=', change.orderId)
    .execute();
  await recordEvent(tx, {
    orderId: change.orderId,
    from: row.status,
    to: change.to,
    actor: change.actor,
    note: change.note ?? null,
  });
  await publishEvent(tx, {
    topic: 'order',
    userId: row.user_id,
    payload: { orderId: change.orderId, status: change.to, from: row.status },
  });
  await notifyOrderStatus(tx, {
    orderId: change.orderId,
    userId: row.user_id,
    status: change.to,
    totalCents: Number(row.total_cents),
    currency: row.currency,
    reason: change.extra?.payment_error ?? null,
  });
  return { from: row.status, to: change.to };
}

/** Appends to the order's history; returns the time recorded. */
export async function recordEvent(
  tx: EntityManager,
  event: { orderId: string; from: OrderStatus | null; to: OrderStatus; actor: Actor; note: string | null },
): Promise<Date> {
  const row = await tx
    .getKysely<Database>()
    .insertInto('order_event')
    .values({
      id: uuidv7(),
      order_id: event.orderId,
      from_status: event.from,
      to_status: event.to,
      actor: event.actor.type,
      actor_user_id: event.actor.userId,
      note: event.note,
      at: sql`clock_timestamp()`,
    })
    .returning('at')
    .executeTakeFirst();
  return row ? rowDate(tx, row.at) : new Date();
}
