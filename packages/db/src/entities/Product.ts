import { defineEntity, p } from '@mikro-orm/core';
import { uuidv7 } from '../ids.ts';

/** Public listings only ever read unarchived rows, so every listing index is partial on this predicate. */
const LISTED = 'where "archived_at" is null';

export const ProductSchema = defineEntity({
  name: 'Product',
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => uuidv7()),
    slug: p.string().length(120).unique(),
    name: p.string().length(200),
    description: p.text().default(''),
    /** A category slug (`home-office`); products of one category are listed together. */
    category: p.string().length(60).default('general'),
    /** Absolute https URLs, first one the main image. */
    imageUrls: p
      .json<string[]>()
      .defaultRaw("'[]'")
      .onCreate(() => []),
    /** Price in minor units (cents); never a float. */
    priceCents: p.integer(),
    /** ISO 4217 code. */
    currency: p.string().length(3).default('USD'),
    /** Units on hand and not reserved by an order. Changed only by conditional updates, never read-then-write. */
    stock: p.integer().default(0),
    /**
     * Set when an admin archives the product: it leaves the catalogue and carts, but the row stays, so
     * orders keep referencing it.
     */
    archivedAt: p.datetime().nullable(),
    /** Rolled up by the worker from `analytics_event` rows (job `catalog__refresh_view_count`). */
    viewCount: p.integer().default(0),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
    /**
     * Kept by PostgreSQL itself, so it can never disagree with name/description. Name words weigh more
     * than description words in the ranking (A over B). The `simple` configuration (no stemming, no stop
     * words) suits product names across languages.
     */
    searchVector: p
      .string()
      .columnType('tsvector')
      .generated(
        "(setweight(to_tsvector('simple', coalesce(name, '')), 'A') || setweight(to_tsvector('simple', coalesce(description, '')), 'B')) stored",
      )
      // Nullable only so creating a Product never asks for it; PostgreSQL always computes it.
      .nullable()
      .lazy()
      .hidden(),
  },
  // One index per sort the catalogue offers, with and without the category filter, each partial on
  // unarchived rows and ending in `id` (the keyset tie-breaker). `catalog.list`'s EXPLAIN test checks
  // that every combination uses them. Newest-first without a category uses the primary key (UUIDv7).
  indexes: [
    {
      name: 'product_search_vector_idx',
      expression: `create index "product_search_vector_idx" on "product" using gin ("search_vector") ${LISTED}`,
    },
    {
      name: 'product_category_newest_idx',
      expression: `create index "product_category_newest_idx" on "product" ("category", "id") ${LISTED}`,
    },
    {
      name: 'product_price_idx',
      expression: `create index "product_price_idx" on "product" ("price_cents", "id") ${LISTED}`,
    },
    {
      name: 'product_category_price_idx',
      expression: `create index "product_category_price_idx" on "product" ("category", "price_cents", "id") ${LISTED}`,
    },
    {
      name: 'product_name_idx',
      expression: `create index "product_name_idx" on "product" ("name", "id") ${LISTED}`,
    },
    {
      name: 'product_category_name_idx',
      expression: `create index "product_category_name_idx" on "product" ("category", "name", "id") ${LISTED}`,
    },
  ],
  checks: [
    { name: 'product_price_cents_check', expression: 'price_cents >= 0' },
    { name: 'product_stock_check', expression: 'stock >= 0' },
  ],
});

export class Product extends ProductSchema.class {}
ProductSchema.setClass(Product);
