/**
 * Checkout: the cart becomes an order in one transaction.
 *
 * 1. The idempotency key is inserted first. A concurrent checkout with the same key blocks on the
 *    unique index until this transaction ends, then finds the order (or, if this one rolled back,
 *    proceeds itself): never two orders for one key.
 * 2. The cart lines are locked and read with the products' current prices; archived products refuse
 *    the checkout. Totals are computed from those prices.
 * 3. The order, its lines and first history entry are written, the ordered lines leave the cart,
 *    product caches are told (NOTIFY, delivered on commit) and `payment__capture` is enqueued.
 * 4. Last, stock is reserved with one conditional `UPDATE ... WHERE stock >= quantity AND price_cents =
 *    <the price charged>` per line, in product-id order: concurrent checkouts queue on the same rows
 *    in the same order (no deadlocks), and a product's row stays locked only from its update to the
 *    commit, which is what bounds a flash sale's throughput. A line that cannot be served (stock,
 *    archived, or a price that moved meanwhile) rolls everything back with an error naming it.
 */
import { createHash } from 'node:crypto';
import { notifyProductsChanged } from '@keelson/catalog';
import { type Database, rowDate, uuidv7 } from '@keelson/db';
import { AppError } from '@keelson/errors';
import { enqueue } from '@keelson/jobs';
import { type PublishedEvent, publishEvents } from '@keelson/realtime';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import type { CommerceSettings } from './cart.ts';
import { getOrder } from './orders.ts';
import { type CheckoutInput, checkoutInput, type OrderDto } from './schemas.ts';
import { recordEvent } from './stateMachine.ts';
import { computeTotals } from './totals.ts';

interface CartLine {
  product_id: string;
  quantity: number;
  name: string;
  slug: string;
  price_cents: number;
  archived: boolean;
}

/** Typed SQL on the entities' tables, in `tx`'s transaction. */
const kysely = (tx: EntityManager) => tx.getKysely<Database>();

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** What the key was used for: the cart's products and quantities (order-independent). */
function cartHash(lines: readonly CartLine[]): string {
  return sha256(
    [...lines]
      .sort((a, b) => a.product_id.localeCompare(b.product_id))
      .map((l) => `${l.product_id}:${l.quantity}`)
      .join(','),
  );
}

async function readCart(tx: EntityManager, userId: string, lock: boolean): Promise<CartLine[]> {
  const query = kysely(tx)
    .selectFrom('cart_item as c')
    .innerJoin('product as p', 'p.id', 'c.product_id')
    .select(['c.product_id', 'c.quantity', 'p.name', 'p.slug', 'p.price_cents'])
    .select(sql<boolean>`p.archived_at is not null`.as('archived'))
    .where('c.user_id', '=', userId)
    .orderBy('c.product_id');
  return (lock ? query.forUpdate('c') : query).execute();
}

/** Why a line's reservation failed, read after the fact: archived, repriced, or short of stock. */
async function refuseLine(tx: EntityManager, lines: readonly CartLine[], failed: CartLine): Promise<never> {
  const rows = await kysely(tx)
    .selectFrom('product')
    .select(['id', 'stock', 'price_cents', sql<boolean>`archived_at is not null`.as('archived')])
    .where(
      'id',
      'in',
      lines.map((l) => l.product_id),
    )
    .execute();
  const now = new Map(rows.map((r) => [r.id, r]));
  const current = now.get(failed.product_id);
  if (!current || current.archived) {
    throw new AppError('PRODUCT_UNAVAILABLE', {
      message: 'A product in your cart was just archived; remove it to check out.',
      details: { lines: [{ productId: failed.product_id, name: failed.name }] },
    });
  }
  if (current.price_cents !== failed.price_cents) {
    throw new AppError('PRICE_CHANGED', {
      details: {
        productId: failed.product_id,
        priceCents: current.price_cents,
        previousPriceCents: failed.price_cents,
      },
    });
  }
  // Lines before this one were reserved by this transaction (their stock reads low until the rollback)
  // and could be served; this one and any later short line could not.
  const short = lines
    .slice(lines.indexOf(failed))
    .filter((l) => (now.get(l.product_id)?.stock ?? 0) < l.quantity)
    .map((l) => ({
      productId: l.product_id,
      name: l.name,
      requested: l.quantity,
      available: now.get(l.product_id)?.stock ?? 0,
    }));
  throw new AppError('OUT_OF_STOCK', { details: { lines: short } });
}

export async function checkout(
  em: EntityManager,
  req: {
    userId: string;
    input: CheckoutInput;
    settings: CommerceSettings;
    /** Called once a new order is committed; not for a replayed key (metrics count orders, not calls). */
    onPlaced?: (order: OrderDto) => void;
  },
): Promise<OrderDto> {
  const input = checkoutInput.parse(req.input);
  const { userId, settings } = req;
  const tokenHash = sha256(input.paymentToken);
  const result = await em.transactional(async (tx): Promise<OrderDto | string> => {
    const db = kysely(tx);

    // The cart's hash is filled in below, once the cart is read under lock.
    const inserted = await db
      .insertInto('checkout_idempotency_key')
      .values({
        id: uuidv7(),
        user_id: userId,
        key: input.idempotencyKey,
        cart_hash: '',
        token_hash: tokenHash,
        created_at: sql`now()`,
        expires_at: sql`now() + ${settings.checkoutKeyTtlMs} * interval '1 millisecond'`,
      })
      .onConflict((oc) => oc.columns(['user_id', 'key']).doNothing())
      .returning('id')
      .execute();
    if (!inserted.length) {
      // The key is taken, by a checkout that has committed (we waited for it if it was in flight).
      const prior = await db
        .selectFrom('checkout_idempotency_key')
        .select(['cart_hash', 'token_hash', 'order_id'])
        .where('user_id', '=', userId)
        .where('key', '=', input.idempotencyKey)
        .executeTakeFirst();
      const seen = await readCart(tx, userId, false);
      // A retry sends the same token and finds the cart that checkout emptied, or the very same cart.
      const sameRequest =
        prior?.order_id && prior.token_hash === tokenHash && (seen.length === 0 || prior.cart_hash === cartHash(seen));
      if (sameRequest) return prior.order_id as string;
      throw new AppError('IDEMPOTENCY_KEY_REUSED', { details: { idempotencyKey: input.idempotencyKey } });
    }

    // Locked from here on: a concurrent change to these lines waits for this checkout.
    const lines = await readCart(tx, userId, true);
    if (!lines.length) throw new AppError('CART_EMPTY');
    const unavailable = lines.filter((l) => l.archived);
    if (unavailable.length) {
      throw new AppError('PRODUCT_UNAVAILABLE', {
        message: 'Some products in your cart are no longer available; remove them to check out.',
        details: { lines: unavailable.map((l) => ({ productId: l.product_id, name: l.name })) },
      });
    }
    const totals = computeTotals(
      lines.map((l) => ({ unitPriceCents: l.price_cents, quantity: l.quantity })),
      settings.taxRateBps,
    );
    if (input.expectedTotalCents !== undefined && input.expectedTotalCents !== totals.totalCents) {
      throw new AppError('PRICE_CHANGED', {
        details: { expectedTotalCents: input.expectedTotalCents, totalCents: totals.totalCents },
      });
    }

    const id = uuidv7();
    const created = await db
      .insertInto('store_order')
      .values({
        id,
        user_id: userId,
        status: 'pending_payment',
        currency: settings.currency,
        subtotal_cents: totals.subtotalCents,
        tax_rate_bps: totals.taxRateBps,
        tax_cents: totals.taxCents,
        total_cents: totals.totalCents,
        payment_token: input.paymentToken,
        created_at: sql`now()`,
        updated_at: sql`now()`,
      })
      .returning('created_at')
      .executeTakeFirst();
    // All lines in one statement and one parameter, whatever their number.
    const orderLines = lines.map((l, i) => ({
      id: uuidv7(),
      product_id: l.product_id,
      name: l.name,
      slug: l.slug,
      price: l.price_cents,
      quantity: l.quantity,
      total: totals.lineTotalsCents[i],
    }));
    await sql`
      insert into order_line (id, order_id, product_id, product_name, product_slug, unit_price_cents, quantity, line_total_cents)
      select l.id, ${id}, l.product_id, l.name, l.slug, l.price, l.quantity, l.total
      from jsonb_to_recordset(${JSON.stringify(orderLines)}::jsonb)
        as l(id uuid, product_id uuid, name text, slug text, price int, quantity int, total bigint)`.execute(db);
    const at = await recordEvent(tx, {
      orderId: id,
      from: null,
      to: 'pending_payment',
      actor: { type: 'customer', userId },
      note: null,
    });
    await db
      .updateTable('checkout_idempotency_key')
      .set({ order_id: id, cart_hash: cartHash(lines) })
      .where('user_id', '=', userId)
      .where('key', '=', input.idempotencyKey)
      .execute();
    // Only the lines ordered: a line another tab added meanwhile stays in the cart.
    const productIds = lines.map((l) => l.product_id);
    await db.deleteFrom('cart_item').where('user_id', '=', userId).where('product_id', 'in', productIds).execute();
    await notifyProductsChanged(tx, productIds);
    await enqueue(tx, 'payment__capture', { orderId: id });

    const stockEvents: PublishedEvent[] = [];
    for (const line of lines) {
      const reserved = await db
        .updateTable('product')
        .set((eb) => ({ stock: eb('stock', '-', line.quantity) }))
        .where('id', '=', line.product_id)
        .where('stock', '>=', line.quantity)
        .where('archived_at', 'is', null)
        .where('price_cents', '=', line.price_cents)
        .returning(['id', 'stock'])
        .executeTakeFirst();
      if (!reserved) await refuseLine(tx, lines, line);
      else stockEvents.push({ topic: 'stock', payload: { productId: line.product_id, stock: reserved.stock } });
    }
    // In the order's transaction: the events exist exactly when the order does.
    await publishEvents(tx, [
      { topic: 'order', userId, payload: { orderId: id, status: 'pending_payment', from: null } },
      ...stockEvents,
    ]);
    const createdAt = created ? rowDate(tx, created.created_at) : new Date();
    // Everything the order holds is known here: answering from memory saves re-reading it after commit.
    return {
      id,
      userId,
      status: 'pending_payment',
      currency: settings.currency,
      itemCount: lines.reduce((n, l) => n + l.quantity, 0),
      subtotalCents: totals.subtotalCents,
      taxRateBps: totals.taxRateBps,
      taxCents: totals.taxCents,
      totalCents: totals.totalCents,
      paymentError: null,
      refunded: false,
      createdAt,
      updatedAt: createdAt,
      // In product-id order, as the cart was read and as `getOrder` lists them.
      lines: lines.map((l, i) => ({
        productId: l.product_id,
        productName: l.name,
        productSlug: l.slug,
        unitPriceCents: l.price_cents,
        quantity: l.quantity,
        lineTotalCents: totals.lineTotalsCents[i] ?? 0,
      })),
      history: [
        { fromStatus: null, toStatus: 'pending_payment', actor: 'customer', actorUserId: userId, note: null, at },
      ],
    } satisfies OrderDto;
  });
  // A replayed key answers with the order as it is now.
  if (typeof result === 'string') return getOrder(em, result, userId);
  req.onPlaced?.(result);
  return result;
}
