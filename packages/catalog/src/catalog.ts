/**
 * Catalogue reads, shared by the API (queries) and the worker (roll-ups).
 * Functions take a forked EntityManager; none keeps state between calls.
 */
import { AnalyticsEvent, Product, rowDate } from '@keelson/db';
import { AppError } from '@keelson/errors';
import { enqueue } from '@keelson/jobs';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { CatalogCache } from './cache.ts';
import {
  type CategoryCount,
  type CursorPosition,
  decodeCursor,
  effectiveSort,
  encodeCursor,
  type ListProductsInput,
  listProductsInput,
  type ProductDto,
  type ProductKey,
  type ProductPage,
  type ProductSort,
  toPrefixQuery,
} from './schemas.ts';

export const PRODUCT_VIEWED = 'product_viewed';

/** A product row as `select PRODUCT_COLUMNS` returns it. */
export interface ProductRow {
  id: string;
  slug: string;
  name: string;
  description: string;
  category: string;
  image_urls: string[] | string;
  price_cents: number;
  currency: string;
  stock: number;
  view_count: number;
  archived_at: string | Date | null;
  created_at: string | Date;
  updated_at: string | Date;
}

export const PRODUCT_COLUMNS =
  'id, slug, name, description, category, image_urls, price_cents, currency, stock, view_count, archived_at, created_at, updated_at';

/** Maps a raw row to the DTO. Every read (one product, listings, admin writes) goes through here. */
export function rowToDto(em: EntityManager, row: ProductRow): ProductDto {
  // MikroORM's connection returns timestamptz as text; its platform parses it as the ORM itself would.
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    description: row.description,
    category: row.category,
    imageUrls: typeof row.image_urls === 'string' ? (JSON.parse(row.image_urls) as string[]) : row.image_urls,
    priceCents: row.price_cents,
    currency: row.currency,
    stock: row.stock,
    viewCount: row.view_count,
    archivedAt: row.archived_at === null ? null : rowDate(em, row.archived_at),
    createdAt: rowDate(em, row.created_at),
    updatedAt: rowDate(em, row.updated_at),
  };
}

const SEARCH = `to_tsquery('simple', ?)`;

/**
 * Per sort: the ORDER BY (matching a partial index column for column, so the index yields rows in
 * order), the keyset condition after a cursor (a row comparison, which btree indexes answer as one
 * range), and the sort key of a row, for the next cursor.
 */
const sorts: Record<
  ProductSort,
  { orderBy: string; after: string; key: (row: ProductRow & { rank?: number }) => CursorPosition['key'] }
> = {
  newest: { orderBy: 'id desc', after: 'id < ?', key: () => null },
  price_asc: { orderBy: 'price_cents, id', after: '(price_cents, id) > (?, ?)', key: (r) => r.price_cents },
  price_desc: {
    orderBy: 'price_cents desc, id desc',
    after: '(price_cents, id) < (?, ?)',
    key: (r) => r.price_cents,
  },
  name: { orderBy: 'name, id', after: '(name, id) > (?, ?)', key: (r) => r.name },
  relevance: {
    orderBy: 'rank desc, id desc',
    // ts_rank_cd returns real (float4); the cursor carries it as text PostgreSQL printed exactly, so
    // comparing against it as ::real picks up precisely where the page ended.
    after: `(ts_rank_cd(search_vector, ${SEARCH}), id) < (?::real, ?)`,
    key: (r) => Number(r.rank),
  },
};

/** The SQL of one listing page, exported so the EXPLAIN test checks exactly what runs. */
export function listingQuery(raw: ListProductsInput): {
  sql: string;
  params: unknown[];
  sort: ProductSort;
  limit: number;
} {
  const input = listProductsInput.parse(raw);
  const sort = effectiveSort(input);
  const tsquery = input.q ? toPrefixQuery(input.q) : null;
  const where: string[] = [];
  const params: unknown[] = [];
  // Listings of listed products are served by the partial indexes (`where archived_at is null`).
  if (!input.includeArchived) where.push('archived_at is null');
  if (input.category !== undefined) {
    where.push('category = ?');
    params.push(input.category);
  }
  if (input.minPriceCents !== undefined) {
    where.push('price_cents >= ?');
    params.push(input.minPriceCents);
  }
  if (input.maxPriceCents !== undefined) {
    where.push('price_cents <= ?');
    params.push(input.maxPriceCents);
  }
  if (tsquery) {
    where.push(`search_vector @@ ${SEARCH}`);
    params.push(tsquery);
  }
  const after = input.cursor ? decodeCursor(input.cursor) : null;
  if (after) {
    where.push(sorts[sort].after);
    if (sort === 'relevance') params.push(tsquery, String(after.key), after.id);
    else if (sort === 'newest') params.push(after.id);
    else params.push(after.key, after.id);
  }
  const rank = sort === 'relevance' ? `, ts_rank_cd(search_vector, ${SEARCH}) as rank` : '';
  const rankParams = sort === 'relevance' ? [tsquery] : [];
  const sql =
    `select ${PRODUCT_COLUMNS}${rank} from product` +
    (where.length ? ` where ${where.join(' and ')}` : '') +
    ` order by ${sorts[sort].orderBy} limit ?`;
  return { sql, params: [...rankParams, ...params, input.limit + 1], sort, limit: input.limit };
}

/**
 * Listed products by keyset pagination for every sort: each page is one range scan of the index that
 * matches the sort and filters, however deep the client pages, and rows inserted meanwhile never
 * shift a page. Admins may include archived products (`includeArchived`; the router checks the role).
 */
export async function listProducts(em: EntityManager, input: ListProductsInput): Promise<ProductPage> {
  const { sql, params, sort, limit } = listingQuery(input);
  const rows = await em.getConnection().execute<(ProductRow & { rank?: number })[]>(sql, params);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    items: page.map((row) => rowToDto(em, row)),
    nextCursor: rows.length > limit && last ? encodeCursor({ sort, key: sorts[sort].key(last), id: last.id }) : null,
  };
}

async function readProduct(em: EntityManager, key: ProductKey): Promise<ProductDto> {
  const [column, value] = 'id' in key ? ['id', key.id] : ['slug', key.slug];
  const [row] = await em
    .getConnection()
    .execute<ProductRow[]>(`select ${PRODUCT_COLUMNS} from product where ${column} = ? and archived_at is null`, [
      value,
    ]);
  if (!row) throw new AppError('PRODUCT_NOT_FOUND', { details: key });
  return rowToDto(em, row);
}

/**
 * One listed product by id or slug. The hottest read of a store, so it skips entity hydration and the
 * identity map (a read-only DTO needs neither): profiling under load measured about 40 % less server
 * CPU per request than `em.findOne` (docs/benchmarks.md). The procedure's output schema still checks
 * every field. With a cache (the API's), repeated reads skip the database until the product changes.
 */
export function getProduct(
  em: EntityManager,
  key: ProductKey,
  opts: { cache?: CatalogCache | null | undefined } = {},
): Promise<ProductDto> {
  if (!opts.cache) return readProduct(em, key);
  return opts.cache.product(key, () => readProduct(em, key));
}

async function readCategories(em: EntityManager): Promise<CategoryCount[]> {
  const rows = await em
    .getConnection()
    .execute<{ category: string; count: number }[]>(
      'select category, count(*)::int as count from product where archived_at is null group by category order by category',
    );
  return rows.map((r) => ({ category: r.category, count: r.count }));
}

/** Every category with listed products, with how many, alphabetically. */
export function listCategories(
  em: EntityManager,
  opts: { cache?: CatalogCache | null | undefined } = {},
): Promise<CategoryCount[]> {
  if (!opts.cache) return readCategories(em);
  return opts.cache.categories(() => readCategories(em));
}

/**
 * Checks that a caller may watch these products: the same visibility as `getProduct`, so unknown ids,
 * and archived ones for anyone but admins, answer PRODUCT_NOT_FOUND (naming them) rather than exposing
 * an archived product's stock to whoever kept its id.
 */
export async function assertWatchableProducts(
  em: EntityManager,
  ids: readonly string[],
  opts: { includeArchived: () => Promise<boolean> },
): Promise<void> {
  // Ids travel as one JSON parameter (MikroORM would expand an array into a placeholder list).
  const rows = await em
    .getConnection()
    .execute<{ id: string; archived: boolean }[]>(
      'select id, archived_at is not null as archived from product where id in (select value::uuid from jsonb_array_elements_text(?::jsonb))',
      [JSON.stringify(ids)],
    );
  const found = new Map(rows.map((r) => [r.id, r.archived]));
  const unknown = ids.filter((id) => !found.has(id));
  const archived = ids.filter((id) => found.get(id) === true);
  const hidden = archived.length && !(await opts.includeArchived()) ? [...unknown, ...archived] : unknown;
  if (hidden.length) throw new AppError('PRODUCT_NOT_FOUND', { details: { ids: hidden } });
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
