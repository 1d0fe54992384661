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
    .where({ active: true })
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

export async function getProduct(em: EntityManager, key: ProductKey): Promise<ProductDto> {
  const where = 'id' in key ? { id: key.id } : { slug: key.slug };
  const product = await em.findOne(Product, { ...where, active: true });
  if (!product) throw new AppError('PRODUCT_NOT_FOUND', { details: key });
  return toDto(product);
}

/**
 * Records a view and schedules the roll-up in the same transaction: the event row and the job commit
 * or roll back together. The request does one insert; counting is the worker's job.
 */
export async function recordProductView(em: EntityManager, input: { productId: string }): Promise<{ jobId: string }> {
  return em.transactional(async (tx) => {
    const product = await tx.findOne(Product, { id: input.productId, active: true }, { fields: ['id'] });
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
