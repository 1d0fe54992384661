/**
 * Catalogue writes (admin only; the router checks the role). Each runs in one transaction that also
 * announces the change (`notifyProductsChanged`), so every API process drops its cached copy exactly
 * when the change commits. Stock changes also write the `stock_adjustment` ledger in that transaction.
 */
import { type Database, Product, StockAdjustment } from '@keelson/db';
import { AppError } from '@keelson/errors';
import { publishEvent } from '@keelson/realtime';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { PRODUCT_COLUMNS, rowToDto } from './catalog.ts';
import { notifyProductsChanged } from './events.ts';
import {
  type ArchiveProductInput,
  archiveProductInput,
  type CreateProductInput,
  createProductInput,
  MAX_STOCK,
  type ProductDto,
  type RestockInput,
  restockInput,
  type StockAdjustmentPage,
  type StockAdjustmentsInput,
  stockAdjustmentsInput,
  type UpdateProductInput,
  updateProductInput,
} from './schemas.ts';

/** Typed SQL on the entities' tables, in `em`'s transaction when it has one. */
const kysely = (em: EntityManager) => em.getKysely<Database>();

/** Who makes the change: recorded on stock adjustments. */
export interface Actor {
  userId: string;
}

/** The unique index on slug is the only judge of uniqueness: a pre-check would race a concurrent create. */
function slugTaken(err: unknown, slug: string | undefined): AppError | null {
  if (
    err instanceof UniqueConstraintViolationException &&
    (err as { constraint?: string }).constraint === 'product_slug_unique'
  ) {
    return new AppError('SLUG_TAKEN', { details: { field: 'slug', slug }, cause: err });
  }
  return null;
}

async function readAny(tx: EntityManager, id: string): Promise<ProductDto> {
  const row = await kysely(tx).selectFrom('product').select(PRODUCT_COLUMNS).where('id', '=', id).executeTakeFirst();
  if (!row) throw new AppError('PRODUCT_NOT_FOUND', { details: { id } });
  return rowToDto(tx, row);
}

export async function createProduct(em: EntityManager, raw: CreateProductInput, actor: Actor): Promise<ProductDto> {
  const input = createProductInput.parse(raw);
  try {
    return await em.transactional(async (tx) => {
      const { stock, ...fields } = input;
      const product = tx.create(Product, { ...fields, stock, currency: 'USD' });
      // The ledger accounts for all stock: `stock + units in live orders = sum(delta)`.
      if (stock > 0) {
        tx.create(StockAdjustment, { product, delta: stock, reason: 'initial', actorUser: actor.userId });
      }
      await tx.flush();
      await notifyProductsChanged(tx, [product.id]);
      return readAny(tx, product.id);
    });
  } catch (err) {
    throw slugTaken(err, input.slug) ?? err;
  }
}

export async function updateProduct(em: EntityManager, raw: UpdateProductInput): Promise<ProductDto> {
  const { id, ...changes } = updateProductInput.parse(raw);
  const set = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined));
  try {
    return await em.transactional(async (tx) => {
      // One conditional statement; `stock` is not among the fields, so a concurrent order is never undone.
      const updated = await tx.nativeUpdate(Product, { id }, { ...set, updatedAt: new Date() });
      if (updated === 0) throw new AppError('PRODUCT_NOT_FOUND', { details: { id } });
      await notifyProductsChanged(tx, [id]);
      return readAny(tx, id);
    });
  } catch (err) {
    throw slugTaken(err, changes.slug) ?? err;
  }
}

/**
 * Takes a product out of the catalogue (or, with `archived: false`, puts it back). Carts keep their
 * lines: the cart flags archived products itself. Archiving twice keeps the first date.
 */
export async function archiveProduct(em: EntityManager, raw: ArchiveProductInput): Promise<ProductDto> {
  const { id, archived } = archiveProductInput.parse(raw);
  return em.transactional(async (tx) => {
    const updated = await kysely(tx)
      .updateTable('product')
      .set({ archived_at: archived ? sql`coalesce(archived_at, now())` : null, updated_at: sql`now()` })
      .where('id', '=', id)
      .returning('id')
      .executeTakeFirst();
    if (!updated) throw new AppError('PRODUCT_NOT_FOUND', { details: { id } });
    await notifyProductsChanged(tx, [id]);
    return readAny(tx, id);
  });
}

/**
 * Adds units (a restock) or removes them (a correction, negative delta). One conditional UPDATE, never
 * read-then-write: concurrent restocks and orders each apply their own delta, and stock can never go
 * below zero. Each change is a `stock_adjustment` row by the admin.
 */
export async function restockProduct(em: EntityManager, raw: RestockInput, actor: Actor): Promise<ProductDto> {
  const { productId, delta } = restockInput.parse(raw);
  return em.transactional(async (tx) => {
    const db = kysely(tx);
    const updated = await db
      .updateTable('product')
      .set((eb) => ({ stock: eb('stock', '+', delta), updated_at: sql`now()` }))
      .where('id', '=', productId)
      .where((eb) => eb.between(eb('stock', '+', delta), 0, MAX_STOCK))
      .returning('stock')
      .executeTakeFirst();
    if (!updated) {
      // Why nothing was updated, for the error only; nothing is written after this read.
      const current = await db.selectFrom('product').select('stock').where('id', '=', productId).executeTakeFirst();
      if (!current) throw new AppError('PRODUCT_NOT_FOUND', { details: { id: productId } });
      if (delta < 0) {
        throw new AppError('INSUFFICIENT_STOCK', {
          details: { productId, available: current.stock, requested: -delta },
        });
      }
      throw new AppError('STOCK_LIMIT_EXCEEDED', { details: { productId, stock: current.stock, max: MAX_STOCK } });
    }
    tx.create(StockAdjustment, {
      product: productId,
      delta,
      reason: delta > 0 ? 'restock' : 'correction',
      actorUser: actor.userId,
    });
    await tx.flush();
    await notifyProductsChanged(tx, [productId]);
    await publishEvent(tx, { topic: 'stock', payload: { productId, stock: updated.stock } });
    return readAny(tx, productId);
  });
}

/**
 * A product's stock ledger, newest first: its initial stock, each restock and correction, and who made
 * it. Orders are not in it (they are in the orders); PRODUCT_NOT_FOUND for an unknown product.
 */
export async function listStockAdjustments(
  em: EntityManager,
  raw: StockAdjustmentsInput,
): Promise<StockAdjustmentPage> {
  const input = stockAdjustmentsInput.parse(raw);
  if (!(await em.count(Product, { id: input.productId }))) {
    throw new AppError('PRODUCT_NOT_FOUND', { details: { id: input.productId } });
  }
  const rows = await em.find(
    StockAdjustment,
    { product: input.productId, ...(input.cursor ? { id: { $lt: input.cursor } } : {}) },
    { orderBy: { id: 'desc' }, limit: input.limit + 1, populate: ['actorUser'] },
  );
  const page = rows.slice(0, input.limit);
  return {
    items: page.map((r) => ({
      id: r.id,
      delta: r.delta,
      reason: r.reason,
      actorEmail: r.actorUser?.email ?? null,
      at: r.at,
    })),
    nextCursor: rows.length > input.limit ? (page.at(-1)?.id ?? null) : null,
  };
}

/** Any product by id, archived ones included (admins: the product's own page in the console). */
export async function getAnyProduct(em: EntityManager, id: string): Promise<ProductDto> {
  const row = await kysely(em).selectFrom('product').select(PRODUCT_COLUMNS).where('id', '=', id).executeTakeFirst();
  if (!row) throw new AppError('PRODUCT_NOT_FOUND', { details: { id } });
  return rowToDto(em, row);
}
