/**
 * Catalogue rules, shared by the API (queries, mutations) and the worker (roll-ups).
 * Functions take a forked EntityManager; none keeps state between calls.
 */
import { AnalyticsEvent, Product } from '@keelson/db';
import { AppError } from '@keelson/errors';
import { enqueue } from '@keelson/jobs';
import type { EntityManager } from '@mikro-orm/postgresql';
import {
  decodeCursor,
  encodeCursor,
  type ListProductsInput,
  listProductsInput,
  type ProductDto,
  type ProductKey,
  type ProductPage,
  toPrefixQuery,
} from './schemas.ts';

export const PRODUCT_VIEWED = 'product_viewed';

function toDto(p: Product): ProductDto {
  return {
    id: p.id,
    slug: p.slug,
    name: p.name,
    description: p.description,
    priceCents: p.priceCents,
    currency: p.currency,
    stock: p.stock,
    viewCount: p.viewCount,
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
  };
}

/**
 * Active products, newest first, by keyset pagination on the time-ordered UUIDv7 primary key: each page
 * is one index range scan however deep the client pages, and rows inserted meanwhile never shift it.
 */
export async function listProducts(em: EntityManager, input: ListProductsInput): Promise<ProductPage> {
  const { cursor, limit, q } = listProductsInput.parse(input);
  const qb = em
    .createQueryBuilder(Product, 'p')
    .where({ archivedAt: null })
    .orderBy({ id: 'desc' })
    .limit(limit + 1);
  const after = cursor ? decodeCursor(cursor) : null;
  if (after) qb.andWhere({ id: { $lt: after } });
  const tsquery = q ? toPrefixQuery(q) : null;
  if (tsquery) qb.andWhere(`p.search_vector @@ to_tsquery('simple', ?)`, [tsquery]);
  const rows = await qb.getResultList();
  const items = rows.slice(0, limit).map(toDto);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.id) : null };
}

interface ProductRow {
  id: string;
  slug: string;
  name: string;
  description: string;
  price_cents: number;
  currency: string;
  stock: number;
  view_count: number;
  created_at: string | Date;
  updated_at: string | Date;
}

const PRODUCT_COLUMNS = 'id, slug, name, description, price_cents, currency, stock, view_count, created_at, updated_at';

/**
 * One active product by id or slug. The hottest read of a store, so it skips entity hydration and the
 * identity map (a read-only DTO needs neither): profiling under load measured about 40 % less server
 * CPU per request than `em.findOne` (docs/benchmarks.md). The procedure's output schema still checks every field.
 */
export async function getProduct(em: EntityManager, key: ProductKey): Promise<ProductDto> {
  const [column, value] = 'id' in key ? ['id', key.id] : ['slug', key.slug];
  const [row] = await em
    .getConnection()
    .execute<ProductRow[]>(`select ${PRODUCT_COLUMNS} from product where ${column} = ? and archived_at is null`, [
      value,
    ]);
  if (!row) throw new AppError('PRODUCT_NOT_FOUND', { details: key });
  // MikroORM's connection returns timestamptz as text; its platform parses it as the ORM itself would.
  const date = (v: string | Date) => (v instanceof Date ? v : em.getPlatform().parseDate(v));
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    description: row.description,
    priceCents: row.price_cents,
    currency: row.currency,
    stock: row.stock,
    viewCount: row.view_count,
    createdAt: date(row.created_at),
    updatedAt: date(row.updated_at),
  };
}

/**
 * Records a view and schedules the roll-up in the same transaction: the event row and the job commit
 * or roll back together. The request does one insert; counting is the worker's job.
 */
export async function recordProductView(em: EntityManager, input: { productId: string }): Promise<{ jobId: string }> {
  return em.transactional(async (tx) => {
    const product = await tx.findOne(Product, { id: input.productId, archivedAt: null }, { fields: ['id'] });
    if (!product) throw new AppError('PRODUCT_NOT_FOUND', { details: { id: input.productId } });
    tx.create(AnalyticsEvent, { name: PRODUCT_VIEWED, product: product.id });
    await tx.flush();
    return enqueue(tx, 'catalog__refresh_view_count', { productId: product.id }).then((job) => ({
      jobId: job.id,
    }));
  });
}

/** Sets `view_count` to the number of recorded views. Idempotent: safe to retry or run twice. */
export async function refreshViewCount(em: EntityManager, productId: string): Promise<number> {
  const rows = await em.getConnection().execute<{ view_count: number }[]>(
    `update product set view_count = (
       select count(*) from analytics_event where product_id = ? and name = ?
     )
     where id = ? returning view_count`,
    [productId, PRODUCT_VIEWED, productId],
  );
  return rows[0]?.view_count ?? 0;
}
