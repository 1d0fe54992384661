import { defineEntity, p } from '@mikro-orm/core';
import { uuidv7 } from '../ids.ts';

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
    /** Price in minor units (cents); never a float. */
    priceCents: p.integer(),
    /** ISO 4217 code. */
    currency: p.string().length(3).default('USD'),
    stock: p.integer().default(0),
    active: p.boolean().default(true),
    /** Rolled up by the worker from `analytics_event` rows (job `catalog__refresh_view_count`). */
    viewCount: p.integer().default(0),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
    /**
     * Kept by PostgreSQL itself, so it can never disagree with name/description. The `simple`
     * configuration (no stemming, no stop words) suits product names across languages.
     */
    searchVector: p
      .string()
      .columnType('tsvector')
      .generated("(to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(description, ''))) stored")
      // Nullable only so creating a Product never asks for it; PostgreSQL always computes it.
      .nullable()
      .lazy()
      .hidden(),
  },
  indexes: [
    {
      name: 'product_search_vector_idx',
      expression: 'create index "product_search_vector_idx" on "product" using gin ("search_vector")',
    },
  ],
  checks: [
    { name: 'product_price_cents_check', expression: 'price_cents >= 0' },
    { name: 'product_stock_check', expression: 'stock >= 0' },
  ],
});

export class Product extends ProductSchema.class {}
ProductSchema.setClass(Product);
