/**
 * Checkout: the cart becomes an order in one transaction.
 *
 * 1. The idempotency key is inserted first. A concurrent checkout with the same key blocks on the
 *    unique index until this transaction ends, then finds the order (or, if this one rolled back,
 *    proceeds itself): never two orders for one key.
 * 2. The cart lines are locked and read; archived products refuse the checkout.
 * 3. Stock is reserved with one conditional `UPDATE ... WHERE stock >= quantity` per line, in product-id
 *    order, so concurrent checkouts queue on the same rows in the same order and never deadlock. Any
 *    line that cannot be served rolls everything back: OUT_OF_STOCK names the lines.
 * 4. Prices come from the rows just locked, so the order is priced exactly as stock was taken.
 * 5. The order, its lines and first history entry are written, the cart lines removed, product caches
 *    invalidated (NOTIFY on commit), and `payment__capture` enqueued — all committed together.
 */
import { createHash } from 'node:crypto';
import { notifyProductsChanged } from '@keelson/catalog';
import { uuidv7 } from '@keelson/db';
import { AppError } from '@keelson/errors';
import { enqueue } from '@keelson/jobs';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { CommerceSettings } from './cart.ts';
import { getOrder } from './orders.ts';
import { type CheckoutInput, checkoutInput, type OrderDto } from './schemas.ts';
import { recordEvent } from './stateMachine.ts';
import { computeTotals } from './totals.ts';

interface CartLine {
  product_id: string;
  quantity: number;
  archived: boolean;
  name: string;
}

/** What a key stands for: the cart's products and quantities, and the payment token. */
function requestHash(lines: readonly CartLine[], paymentToken: string): string {
  const canonical = [...lines]
    .sort((a, b) => a.product_id.localeCompare(b.product_id))
    .map((l) => `${l.product_id}:${l.quantity}`)
    .join(',');
  return createHash('sha256').update(`${canonical}|${paymentToken}`).digest('hex');
}

async function readCart(tx: EntityManager, userId: string, lock: boolean): Promise<CartLine[]> {
  return tx.getConnection().execute<CartLine[]>(
    `select c.product_id, c.quantity, p.archived_at is not null as archived, p.name
     from cart_item c join product p on p.id = c.product_id
     where c.user_id = ? order by c.product_id${lock ? ' for update of c' : ''}`,
    [userId],
    'all',
    tx.getTransactionContext(),
  );
}

export async function checkout(
  em: EntityManager,
  req: { userId: string; input: CheckoutInput; settings: CommerceSettings },
): Promise<OrderDto> {
  const input = checkoutInput.parse(req.input);
  const { userId, settings } = req;
  const orderId = await em.transactional(async (tx) => {
    const conn = tx.getConnection();
    const ctx = tx.getTransactionContext();
    const seen = await readCart(tx, userId, false);
    const hash = requestHash(seen, input.paymentToken);

    const inserted = await conn.execute<{ id: string }[]>(
      `insert into checkout_idempotency_key (id, user_id, key, request_hash, created_at, expires_at)
       values (?, ?, ?, ?, now(), now() + ? * interval '1 millisecond')
       on conflict (user_id, key) do nothing returning id`,
      [uuidv7(), userId, input.idempotencyKey, hash, settings.checkoutKeyTtlMs],
      'all',
      ctx,
    );
    if (!inserted.length) {
      // The key is taken, by a checkout that has committed (we waited for it if it was in flight).
      const [prior] = await conn.execute<{ request_hash: string; order_id: string | null }[]>(
        'select request_hash, order_id from checkout_idempotency_key where user_id = ? and key = ?',
        [userId, input.idempotencyKey],
        'all',
        ctx,
      );
      // A retry finds the cart that checkout emptied, or the very same cart: same answer as the first time.
      if (prior?.order_id && (seen.length === 0 || prior.request_hash === hash)) return prior.order_id;
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

    const priced: { productId: string; name: string; slug: string; unitPriceCents: number; quantity: number }[] = [];
    for (const line of lines) {
      const [row] = await conn.execute<{ price_cents: number; name: string; slug: string }[]>(
        `update product set stock = stock - ? where id = ? and archived_at is null and stock >= ?
         returning price_cents, name, slug`,
        [line.quantity, line.product_id, line.quantity],
        'all',
        ctx,
      );
      if (!row) {
        // Nothing is kept: the rollback returns what was reserved. Report every short line at once.
        const stock = await conn.execute<{ id: string; stock: number }[]>(
          'select id, stock from product where id = any(array[?]::uuid[])',
          [lines.map((l) => l.product_id)],
          'all',
          ctx,
        );
        const available = new Map(stock.map((s) => [s.id, s.stock]));
        // Lines before this one were reserved by this transaction (their stock reads low until the
        // rollback) and could be served; this one and any later short line could not.
        const short = lines
          .slice(lines.indexOf(line))
          .filter((l) => (available.get(l.product_id) ?? 0) < l.quantity)
          .map((l) => ({
            productId: l.product_id,
            name: l.name,
            requested: l.quantity,
            available: available.get(l.product_id) ?? 0,
          }));
        throw new AppError('OUT_OF_STOCK', { details: { lines: short } });
      }
      priced.push({
        productId: line.product_id,
        name: row.name,
        slug: row.slug,
        unitPriceCents: row.price_cents,
        quantity: line.quantity,
      });
    }

    const totals = computeTotals(priced, settings.taxRateBps);
    if (input.expectedTotalCents !== undefined && input.expectedTotalCents !== totals.totalCents) {
      throw new AppError('PRICE_CHANGED', {
        details: { expectedTotalCents: input.expectedTotalCents, totalCents: totals.totalCents },
      });
    }

    const id = uuidv7();
    await conn.execute(
      `insert into store_order (id, user_id, status, currency, subtotal_cents, tax_rate_bps, tax_cents, total_cents,
         payment_token, created_at, updated_at)
       values (?, ?, 'pending_payment', ?, ?, ?, ?, ?, ?, now(), now())`,
      [
        id,
        userId,
        settings.currency,
        totals.subtotalCents,
        totals.taxRateBps,
        totals.taxCents,
        totals.totalCents,
        input.paymentToken,
      ],
      'run',
      ctx,
    );
    for (const [i, line] of priced.entries()) {
      await conn.execute(
        `insert into order_line (id, order_id, product_id, product_name, product_slug, unit_price_cents, quantity, line_total_cents)
         values (?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          uuidv7(),
          id,
          line.productId,
          line.name,
          line.slug,
          line.unitPriceCents,
          line.quantity,
          totals.lineTotalsCents[i],
        ],
        'run',
        ctx,
      );
    }
    await recordEvent(tx, {
      orderId: id,
      from: null,
      to: 'pending_payment',
      actor: { type: 'customer', userId },
      note: null,
    });
    await conn.execute(
      'update checkout_idempotency_key set order_id = ?, request_hash = ? where user_id = ? and key = ?',
      [id, requestHash(lines, input.paymentToken), userId, input.idempotencyKey],
      'run',
      ctx,
    );
    // Only the lines ordered: a line another tab added meanwhile stays in the cart.
    await conn.execute(
      'delete from cart_item where user_id = ? and product_id = any(array[?]::uuid[])',
      [userId, priced.map((l) => l.productId)],
      'run',
      ctx,
    );
    await notifyProductsChanged(
      tx,
      priced.map((l) => l.productId),
    );
    await enqueue(tx, 'payment__capture', { orderId: id });
    return id;
  });
  return getOrder(em, orderId, userId);
}
