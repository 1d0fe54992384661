/**
 * Reading orders, and the status changes customers and admins ask for. Every change goes through
 * `transition` (the state machine) in one transaction with its side effects: stock returned, refund
 * and email jobs enqueued.
 */
import { notifyProductsChanged } from '@keelson/catalog';
import { type Database, type OrderStatus, rowDate } from '@keelson/db';
import { AppError } from '@keelson/errors';
import { enqueue } from '@keelson/jobs';
import { publishEvents } from '@keelson/realtime';
import type { EntityManager } from '@mikro-orm/postgresql';
import { type Kysely, sql } from 'kysely';
import {
  decodeOrderCursor,
  encodeOrderCursor,
  type ListAllOrdersInput,
  type ListOrdersInput,
  listAllOrdersInput,
  listOrdersInput,
  type OrderDto,
  type OrderPage,
  type OrderSummaryDto,
} from './schemas.ts';
import { type Actor, transition } from './stateMachine.ts';

interface OrderRow {
  id: string;
  user_id: string;
  status: OrderStatus;
  currency: string;
  // bigint columns: the driver returns them as strings, whatever the entity's type says.
  subtotal_cents: number | string;
  tax_rate_bps: number;
  tax_cents: number | string;
  total_cents: number | string;
  payment_error: string | null;
  payment_refund_id: string | null;
  item_count: number;
  created_at: string | Date;
  updated_at: string | Date;
}

/** Typed SQL on the entities' tables, in `em`'s transaction when it has one. */
const kysely = (em: EntityManager) => em.getKysely<Database>();

/** An order's summary columns, from `store_order as o`. */
function summaries(db: Kysely<Database>) {
  return db
    .selectFrom('store_order as o')
    .select(['o.id', 'o.user_id', 'o.status', 'o.currency', 'o.subtotal_cents', 'o.tax_rate_bps', 'o.tax_cents'])
    .select(['o.total_cents', 'o.payment_error', 'o.payment_refund_id', 'o.created_at', 'o.updated_at'])
    .select(
      sql<number>`(select coalesce(sum(l.quantity), 0)::int from order_line l where l.order_id = o.id)`.as(
        'item_count',
      ),
    );
}
type SummaryQuery = ReturnType<typeof summaries>;

function toSummary(em: EntityManager, r: OrderRow): OrderSummaryDto {
  return {
    id: r.id,
    userId: r.user_id,
    status: r.status,
    currency: r.currency,
    itemCount: r.item_count,
    subtotalCents: Number(r.subtotal_cents),
    taxRateBps: r.tax_rate_bps,
    taxCents: Number(r.tax_cents),
    totalCents: Number(r.total_cents),
    paymentError: r.payment_error,
    refunded: r.payment_refund_id !== null,
    createdAt: rowDate(em, r.created_at),
    updatedAt: rowDate(em, r.updated_at),
  };
}

interface LineJson {
  product_id: string;
  product_name: string;
  product_slug: string;
  unit_price_cents: number;
  quantity: number;
  line_total_cents: number;
}

interface EventJson {
  from_status: OrderStatus | null;
  to_status: OrderStatus;
  actor: Actor['type'];
  actor_user_id: string | null;
  note: string | null;
  /** As text, the form the driver returns timestamps in, so it parses as every other row date does. */
  at: string;
}

/** Who placed the order, or null when there is no such order (what a live subscription checks first). */
export async function orderOwner(em: EntityManager, orderId: string): Promise<string | null> {
  const row = await kysely(em).selectFrom('store_order').select('user_id').where('id', '=', orderId).executeTakeFirst();
  return row?.user_id ?? null;
}

/**
 * One order with its lines and history. `ownerId` limits it to that customer's orders.
 *
 * One statement, hence one snapshot: read in separate statements, a status change committing between
 * them showed `pending_payment` with a history already ending in `paid`.
 */
export async function getOrder(em: EntityManager, id: string, ownerId?: string): Promise<OrderDto> {
  let query = summaries(kysely(em))
    .select(
      sql<LineJson[]>`coalesce((select json_agg(json_build_object(
          'product_id', l.product_id, 'product_name', l.product_name, 'product_slug', l.product_slug,
          'unit_price_cents', l.unit_price_cents, 'quantity', l.quantity, 'line_total_cents', l.line_total_cents
        ) order by l.product_id) from order_line l where l.order_id = o.id), '[]')`.as('lines'),
    )
    .select(
      sql<EventJson[]>`coalesce((select json_agg(json_build_object(
          'from_status', e.from_status, 'to_status', e.to_status, 'actor', e.actor,
          'actor_user_id', e.actor_user_id, 'note', e.note, 'at', e.at::text
        ) order by e.at, e.id) from order_event e where e.order_id = o.id), '[]')`.as('history'),
    )
    .where('o.id', '=', id);
  if (ownerId) query = query.where('o.user_id', '=', ownerId);
  const row = await query.executeTakeFirst();
  if (!row) throw new AppError('ORDER_NOT_FOUND', { details: { id } });
  return {
    ...toSummary(em, row),
    lines: row.lines.map((l) => ({
      productId: l.product_id,
      productName: l.product_name,
      productSlug: l.product_slug,
      unitPriceCents: l.unit_price_cents,
      quantity: l.quantity,
      lineTotalCents: Number(l.line_total_cents),
    })),
    history: row.history.map((h) => ({
      fromStatus: h.from_status,
      toStatus: h.to_status,
      actor: h.actor,
      actorUserId: h.actor_user_id,
      note: h.note,
      at: rowDate(em, h.at),
    })),
  };
}

async function pageOf(
  em: EntityManager,
  filter: (query: SummaryQuery) => SummaryQuery,
  opts: { cursor: string | null | undefined; limit: number },
): Promise<OrderPage> {
  const after = opts.cursor ? decodeOrderCursor(opts.cursor) : null;
  let query = filter(summaries(kysely(em)));
  if (after) query = query.where('o.id', '<', after);
  const rows = await query
    .orderBy('o.id', 'desc')
    .limit(opts.limit + 1)
    .execute();
  const items = rows.slice(0, opts.limit).map((r) => toSummary(em, r));
  const last = items.at(-1);
  return { items, nextCursor: rows.length > opts.limit && last ? encodeOrderCursor(last.id) : null };
}

/** A customer's own orders, newest first (keyset on the time-ordered id; index `(user_id, id)`). */
export async function listOwnOrders(em: EntityManager, userId: string, input: ListOrdersInput): Promise<OrderPage> {
  const { cursor, limit, status } = listOrdersInput.parse(input);
  return pageOf(
    em,
    (query) => {
      const own = query.where('o.user_id', '=', userId);
      return status ? own.where('o.status', '=', status) : own;
    },
    { cursor, limit },
  );
}

/** Every order (admin), newest first, by status, creation time range and customer. */
export async function listAllOrders(em: EntityManager, input: ListAllOrdersInput): Promise<OrderPage> {
  const { cursor, limit, status, from, to, userId } = listAllOrdersInput.parse(input);
  return pageOf(
    em,
    (query) => {
      let q = query;
      if (status) q = q.where('o.status', '=', status);
      if (from) q = q.where('o.created_at', '>=', from);
      if (to) q = q.where('o.created_at', '<', to);
      if (userId) q = q.where('o.user_id', '=', userId);
      return q;
    },
    { cursor, limit },
  );
}

/**
 * Puts an order's units back on the shelf, in product-id order (the order checkout locks them in, so
 * the two never deadlock), and announces the stock change.
 */
export async function returnStock(tx: EntityManager, orderId: string): Promise<void> {
  const db = kysely(tx);
  const lines = await db
    .selectFrom('order_line')
    .select(['product_id', 'quantity'])
    .where('order_id', '=', orderId)
    .orderBy('product_id')
    .execute();
  const stock: { productId: string; stock: number }[] = [];
  for (const line of lines) {
    const row = await db
      .updateTable('product')
      .set((eb) => ({ stock: eb('stock', '+', line.quantity) }))
      .where('id', '=', line.product_id)
      .returning('stock')
      .executeTakeFirst();
    if (row) stock.push({ productId: line.product_id, stock: row.stock });
  }
  await notifyProductsChanged(
    tx,
    lines.map((l) => l.product_id),
  );
  await publishEvents(
    tx,
    stock.map((payload) => ({ topic: 'stock', payload })),
  );
}

/**
 * Cancels an order: `pending_payment` or `paid` only. The stock goes back at once; whatever the
 * payment took goes back through a `payment__refund` job (a refund, or a voided authorization).
 */
export async function cancelOrder(
  em: EntityManager,
  req: { orderId: string; actor: Actor; ownerId?: string; note?: string | undefined },
): Promise<OrderDto> {
  await em.transactional(async (tx) => {
    await transition(tx, {
      orderId: req.orderId,
      to: 'cancelled',
      actor: req.actor,
      ...(req.ownerId ? { ownerId: req.ownerId } : {}),
      note: req.note ?? null,
      extra: { payment_token: null },
    });
    await returnStock(tx, req.orderId);
    // Paid: refund. Pending: the capture may be under way (or done but unrecorded, if a worker died);
    // the job voids the authorization, or refunds the capture the provider reports.
    await enqueue(tx, 'payment__refund', { orderId: req.orderId });
  });
  return getOrder(em, req.orderId);
}

/** Admin: the goods left the warehouse; the customer gets an email. */
export async function markShipped(
  em: EntityManager,
  req: { orderId: string; actor: Actor; note?: string | undefined },
): Promise<OrderDto> {
  await em.transactional(async (tx) => {
    await transition(tx, { orderId: req.orderId, to: 'shipped', actor: req.actor, note: req.note ?? null });
    await enqueue(tx, 'email__order_status', { orderId: req.orderId, status: 'shipped' });
  });
  return getOrder(em, req.orderId);
}

export async function markDelivered(
  em: EntityManager,
  req: { orderId: string; actor: Actor; note?: string | undefined },
): Promise<OrderDto> {
  await em.transactional((tx) =>
    transition(tx, { orderId: req.orderId, to: 'delivered', actor: req.actor, note: req.note ?? null }),
  );
  return getOrder(em, req.orderId);
}

/**
 * Admin refund: a paid order not yet shipped is cancelled (stock back, money back); a shipped or
 * delivered one becomes `refunded` (money back, the goods are gone). Other statuses have nothing to refund.
 */
export async function refundOrder(
  em: EntityManager,
  req: { orderId: string; actor: Actor; note?: string | undefined },
): Promise<OrderDto> {
  const row = await kysely(em)
    .selectFrom('store_order')
    .select('status')
    .where('id', '=', req.orderId)
    .executeTakeFirst();
  if (!row) throw new AppError('ORDER_NOT_FOUND', { details: { id: req.orderId } });
  if (row.status === 'paid') return cancelOrder(em, req);
  if (row.status !== 'shipped' && row.status !== 'delivered') {
    throw new AppError('ILLEGAL_TRANSITION', {
      message: `An order that is ${row.status.replace('_', ' ')} has no payment to refund.`,
      details: { id: req.orderId, from: row.status, to: 'refunded' },
    });
  }
  await em.transactional(async (tx) => {
    // The state machine re-checks the status under the row lock, so a concurrent change still wins cleanly.
    await transition(tx, { orderId: req.orderId, to: 'refunded', actor: req.actor, note: req.note ?? null });
    await enqueue(tx, 'payment__refund', { orderId: req.orderId });
  });
  return getOrder(em, req.orderId);
}
