/**
 * The server-side cart: a user's `cart_item` rows. Every mutation answers with the whole cart, priced
 * now, so a client never computes money itself.
 */
import { type Database, rowDate } from '@keelson/db';
import { AppError } from '@keelson/errors';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import {
  type AddItemInput,
  addItemInput,
  type CartDto,
  type CartLineDto,
  MAX_CART_LINES,
  MAX_QUANTITY,
  type UpdateItemInput,
} from './schemas.ts';
import { computeTotals } from './totals.ts';

export interface CommerceSettings {
  currency: string;
  /** Basis points: 825 = 8.25 %. */
  taxRateBps: number;
  /** How long checkout idempotency keys are kept. */
  checkoutKeyTtlMs: number;
}

/** Typed SQL on the entities' tables, in `em`'s transaction when it has one. */
const kysely = (em: EntityManager) => em.getKysely<Database>();

interface CartRow {
  product_id: string;
  slug: string;
  name: string;
  image_urls: string[];
  quantity: number;
  price_cents_seen: number;
  price_cents: number;
  stock: number;
  archived: boolean;
  added_at: string | Date;
}

/** The cart's lines with each product as it is now, oldest first. */
async function cartRows(em: EntityManager, userId: string): Promise<CartRow[]> {
  return kysely(em)
    .selectFrom('cart_item as c')
    .innerJoin('product as p', 'p.id', 'c.product_id')
    .select(['c.product_id', 'p.slug', 'p.name', 'p.image_urls', 'c.quantity', 'c.price_cents_seen'])
    .select(['p.price_cents', 'p.stock', sql<boolean>`p.archived_at is not null`.as('archived'), 'c.added_at'])
    .where('c.user_id', '=', userId)
    .orderBy('c.added_at')
    .orderBy('c.product_id')
    .execute();
}

export async function getCart(em: EntityManager, userId: string, settings: CommerceSettings): Promise<CartDto> {
  const rows = await cartRows(em, userId);
  const lines: CartLineDto[] = rows.map((r) => ({
    productId: r.product_id,
    slug: r.slug,
    name: r.name,
    imageUrl: r.image_urls[0] ?? null,
    quantity: r.quantity,
    unitPriceCents: r.price_cents,
    lineTotalCents: r.price_cents * r.quantity,
    previousPriceCents: r.price_cents === r.price_cents_seen ? null : r.price_cents_seen,
    priceChanged: r.price_cents !== r.price_cents_seen,
    available: !r.archived,
    stock: r.stock,
    insufficientStock: r.stock < r.quantity,
    addedAt: rowDate(em, r.added_at),
  }));
  const buyable = lines.filter((l) => l.available);
  const totals = computeTotals(
    buyable.map((l) => ({ unitPriceCents: l.unitPriceCents, quantity: l.quantity })),
    settings.taxRateBps,
  );
  return {
    lines,
    currency: settings.currency,
    itemCount: buyable.reduce((n, l) => n + l.quantity, 0),
    subtotalCents: totals.subtotalCents,
    taxRateBps: totals.taxRateBps,
    taxCents: totals.taxCents,
    totalCents: totals.totalCents,
    checkoutReady: lines.length > 0 && lines.every((l) => l.available && !l.insufficientStock),
  };
}

/** The product a cart line may refer to: it must exist and not be archived. */
async function buyableProduct(em: EntityManager, productId: string): Promise<{ priceCents: number }> {
  const row = await kysely(em)
    .selectFrom('product')
    .select(['price_cents', sql<boolean>`archived_at is not null`.as('archived')])
    .where('id', '=', productId)
    .executeTakeFirst();
  if (!row) throw new AppError('PRODUCT_NOT_FOUND', { details: { id: productId } });
  if (row.archived) throw new AppError('PRODUCT_UNAVAILABLE', { details: { productId } });
  return { priceCents: row.price_cents };
}

/**
 * Adds units of a product (to its line, if there is one). One upsert, so two tabs adding at once both
 * count; a line never exceeds 99 units.
 */
export async function addCartItem(em: EntityManager, userId: string, input: AddItemInput): Promise<void> {
  const { productId, quantity } = addItemInput.parse(input);
  const product = await buyableProduct(em, productId);
  await em.transactional(async (tx) => {
    const db = kysely(tx);
    // One cart changes at a time, so two tabs adding at once cannot both pass the line limit.
    await sql`select pg_advisory_xact_lock(hashtextextended(${`cart:${userId}`}, 0))`.execute(db);
    const counted = await db
      .selectFrom('cart_item')
      .select((eb) => eb.fn.countAll<number>().as('lines'))
      .where('user_id', '=', userId)
      .where('product_id', '<>', productId)
      .executeTakeFirst();
    if (Number(counted?.lines ?? 0) >= MAX_CART_LINES) {
      throw new AppError('CART_FULL', { details: { maxLines: MAX_CART_LINES } });
    }
    const rows = await db
      .insertInto('cart_item')
      .values({
        id: sql`gen_random_uuid()`,
        user_id: userId,
        product_id: productId,
        quantity,
        price_cents_seen: product.priceCents,
        added_at: sql`now()`,
        updated_at: sql`now()`,
      })
      .onConflict((oc) =>
        oc
          .columns(['user_id', 'product_id'])
          .doUpdateSet((eb) => ({
            quantity: eb('cart_item.quantity', '+', eb.ref('excluded.quantity')),
            price_cents_seen: eb.ref('excluded.price_cents_seen'),
            updated_at: sql`now()`,
          }))
          .where((eb) => eb(eb('cart_item.quantity', '+', eb.ref('excluded.quantity')), '<=', MAX_QUANTITY)),
      )
      .returning('quantity')
      .execute();
    if (!rows.length) {
      throw new AppError('CART_QUANTITY_LIMIT', { details: { productId, maxQuantity: MAX_QUANTITY } });
    }
  });
}

/** Sets a line's quantity; the line must exist. The customer has now seen the current price. */
export async function updateCartItem(em: EntityManager, userId: string, input: UpdateItemInput): Promise<void> {
  const product = await buyableProduct(em, input.productId);
  const updated = await kysely(em)
    .updateTable('cart_item')
    .set({ quantity: input.quantity, price_cents_seen: product.priceCents, updated_at: sql`now()` })
    .where('user_id', '=', userId)
    .where('product_id', '=', input.productId)
    .returning('quantity')
    .execute();
  if (!updated.length) throw new AppError('CART_ITEM_NOT_FOUND', { details: { productId: input.productId } });
}

export async function removeCartItem(em: EntityManager, userId: string, productId: string): Promise<void> {
  const removed = await kysely(em)
    .deleteFrom('cart_item')
    .where('user_id', '=', userId)
    .where('product_id', '=', productId)
    .returning('id')
    .execute();
  if (!removed.length) throw new AppError('CART_ITEM_NOT_FOUND', { details: { productId } });
}

export async function clearCart(em: EntityManager, userId: string): Promise<void> {
  await kysely(em).deleteFrom('cart_item').where('user_id', '=', userId).execute();
}
