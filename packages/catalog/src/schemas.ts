/**
 * Catalogue inputs and outputs.
 *
 * Glossary:
 * - **listed**: not archived (`archived_at is null`); public reads only ever see listed products.
 * - **slug**: lower-case words of letters and digits joined by single hyphens (`oak-desk-lamp`), the
 *   product's address in URLs. Categories are slugs too.
 * - **keyset cursor**: where a page ended (the sort, the last item's sort key and id), so the next page
 *   is one index range scan that rows inserted meanwhile never shift.
 */
import { multiLineText, singleLineText, storableText, unstorableText } from '@keelson/db';
import { z } from 'zod';

/** `oak-desk-lamp`: no leading, trailing or doubled hyphens, so every slug is a clean URL segment. */
export const SLUG_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/** The highest price, in cents: $1,000,000.00. Far above any real product, far below int4's limit. */
export const MAX_PRICE_CENTS = 100_000_000;
/** The most units `catalog.create` starts a product with. */
export const MAX_INITIAL_STOCK = 1_000_000;
/** The largest single restock or correction. */
export const MAX_STOCK_DELTA = 1_000_000;
/** The most units on hand after any restock: keeps `stock` well inside PostgreSQL's int4. */
export const MAX_STOCK = 1_000_000_000;
export const MAX_IMAGE_URLS = 10;

/** The text rules of @keelson/db: a product's name is one line, its description free text. */
const oneLine = () => z.string().regex(singleLineText.pattern, singleLineText.message);
const freeText = () => z.string().regex(multiLineText.pattern, multiLineText.message);

export const slugSchema = z.string().max(120).regex(SLUG_PATTERN, 'Lower-case letters, digits and single hyphens');
export const categorySchema = z.string().max(60).regex(SLUG_PATTERN, 'Lower-case letters, digits and single hyphens');
export const priceCentsSchema = z.number().int().min(0).max(MAX_PRICE_CENTS);
export const imageUrlsSchema = z
  .array(
    z
      .url({ protocol: /^https$/, hostname: z.regexes.domain })
      .max(2000)
      .regex(/^[^\s\p{Cc}]+$/u, 'No spaces or control characters'),
  )
  .max(MAX_IMAGE_URLS);

export const productSorts = ['newest', 'price_asc', 'price_desc', 'name', 'relevance'] as const;
export type ProductSort = (typeof productSorts)[number];

export const productKey = z.union([
  z.object({ id: z.uuid() }),
  // Not the slug pattern: a product with an older, looser slug must stay reachable. Only storable
  // text, which any slug in the table is (anything else would fail as an internal error, not a NOT_FOUND).
  z.object({
    slug: z.string().min(1).max(120).regex(storableText.pattern, 'Invalid slug'),
  }),
]);
export type ProductKey = z.infer<typeof productKey>;

export const productDto = z.object({
  id: z.uuid(),
  slug: z.string(),
  name: z.string(),
  description: z.string(),
  category: z.string(),
  imageUrls: z.array(z.string()),
  priceCents: z.number().int(),
  currency: z.string(),
  stock: z.number().int(),
  viewCount: z.number().int(),
  /** Null for every product a public read returns. */
  archivedAt: z.date().nullable(),
  createdAt: z.date(),
  updatedAt: z.date(),
});
export type ProductDto = z.infer<typeof productDto>;

export const productPage = z.object({ items: z.array(productDto), nextCursor: z.string().nullable() });
export type ProductPage = z.infer<typeof productPage>;

export const categoryCount = z.object({ category: z.string(), count: z.number().int() });
export type CategoryCount = z.infer<typeof categoryCount>;

// ---- Keyset cursors ----

/** The sort key of the last item of a page: null for newest (the id is the key), a number or a name. */
export interface CursorPosition {
  sort: ProductSort;
  key: number | string | null;
  id: string;
}

const cursorTuple = z.tuple([z.enum(productSorts), z.union([z.number(), z.string(), z.null()]), z.uuid()]);

// A cursor comes back from the client, so its key is checked as strictly as any input: a value the
// column's type cannot hold (a price beyond int4, a NUL in a name, a rank beyond float4) would
// otherwise fail inside PostgreSQL as an internal error instead of a BAD_REQUEST.
const isPrice = (k: CursorPosition['key']) =>
  Number.isInteger(k) && (k as number) >= 0 && (k as number) <= MAX_PRICE_CENTS;
const keyFits: Record<ProductSort, (key: CursorPosition['key']) => boolean> = {
  newest: (k) => k === null,
  price_asc: isPrice,
  price_desc: isPrice,
  name: (k) => typeof k === 'string' && k.length <= 200 && unstorableText(k) === null,
  relevance: (k) => typeof k === 'number' && k >= 0 && k < 1e30,
};

/** Opaque to clients (base64url JSON), so nobody builds cursors by hand or relies on their shape. */
export function encodeCursor(position: CursorPosition): string {
  return Buffer.from(JSON.stringify([position.sort, position.key, position.id])).toString('base64url');
}

export function decodeCursor(cursor: string): CursorPosition | null {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(cursor, 'base64url').toString());
  } catch {
    return null;
  }
  const parsed = cursorTuple.safeParse(raw);
  if (!parsed.success) return null;
  const [sort, key, id] = parsed.data;
  return keyFits[sort](key) ? { sort, key, id } : null;
}

/** Names are at most 200 characters, so an honest cursor stays well under this. */
export const cursorSchema = z
  .string()
  .max(2048)
  .refine((c) => decodeCursor(c) !== null, { message: 'Invalid cursor' });

export const listProductsInput = z
  .object({
    cursor: cursorSchema.nullish(),
    limit: z.number().int().min(1).max(100).default(20),
    /** Words to find in name or description; each word matches as a prefix. */
    q: oneLine().trim().max(200).optional(),
    category: categorySchema.optional(),
    /** Inclusive price range, cents. */
    minPriceCents: priceCentsSchema.optional(),
    maxPriceCents: priceCentsSchema.optional(),
    /** Default: `relevance` when `q` has words to search, otherwise `newest`. */
    sort: z.enum(productSorts).optional(),
    /** Admins only: archived products too (their `archivedAt` is set). Default false. */
    includeArchived: z.boolean().default(false),
  })
  .superRefine((input, ctx) => {
    const sort = effectiveSort(input);
    if (input.sort === 'relevance' && !toPrefixQuery(input.q ?? '')) {
      ctx.addIssue({ code: 'custom', path: ['sort'], message: 'Sorting by relevance needs words to search (q)' });
    }
    if (input.minPriceCents !== undefined && input.maxPriceCents !== undefined) {
      if (input.minPriceCents > input.maxPriceCents) {
        ctx.addIssue({ code: 'custom', path: ['minPriceCents'], message: 'Must not exceed maxPriceCents' });
      }
    }
    const position = input.cursor ? decodeCursor(input.cursor) : null;
    if (position && position.sort !== sort) {
      ctx.addIssue({ code: 'custom', path: ['cursor'], message: `This cursor belongs to sort "${position.sort}"` });
    }
  });
export type ListProductsInput = z.input<typeof listProductsInput>;

/** The sort a listing uses: the one asked for, else relevance for a search and newest otherwise. */
export function effectiveSort(input: { sort?: ProductSort | undefined; q?: string | undefined }): ProductSort {
  return input.sort ?? (toPrefixQuery(input.q ?? '') ? 'relevance' : 'newest');
}

/**
 * Turns free text into a prefix tsquery (`oak:* & lamp:*`). Only letters and digits survive, so the
 * result is always valid `to_tsquery` syntax whatever the user typed.
 */
export function toPrefixQuery(q: string): string | null {
  const words =
    q
      .toLowerCase()
      .match(/[\p{L}\p{N}]+/gu)
      ?.slice(0, 8) ?? [];
  return words.length ? words.map((w) => `${w}:*`).join(' & ') : null;
}

// ---- Admin inputs ----

const productFields = {
  slug: slugSchema,
  name: oneLine().trim().min(1).max(200),
  description: freeText().max(5000),
  category: categorySchema,
  imageUrls: imageUrlsSchema,
  priceCents: priceCentsSchema,
};

export const createProductInput = z.object({
  ...productFields,
  description: productFields.description.default(''),
  category: productFields.category.default('general'),
  imageUrls: productFields.imageUrls.default([]),
  /** Units on hand at creation (default 0); recorded as the product's `initial` stock adjustment. */
  stock: z.number().int().min(0).max(MAX_INITIAL_STOCK).default(0),
});
export type CreateProductInput = z.input<typeof createProductInput>;

/** Any of the product's fields but stock, which changes only through `restock` (and orders). */
export const updateProductInput = z
  .object({ id: z.uuid() })
  .extend(
    Object.fromEntries(Object.entries(productFields).map(([k, v]) => [k, v.optional()])) as {
      [K in keyof typeof productFields]: z.ZodOptional<(typeof productFields)[K]>;
    },
  )
  // Strict: a `stock` here is a mistake to report (stock changes through `restock`), not to drop silently.
  .strict()
  .refine((input) => Object.keys(productFields).some((k) => input[k as keyof typeof productFields] !== undefined), {
    message: 'Nothing to update',
  });
export type UpdateProductInput = z.input<typeof updateProductInput>;

export const archiveProductInput = z.object({
  id: z.uuid(),
  /** `false` puts an archived product back in the catalogue. Default true. */
  archived: z.boolean().default(true),
});
export type ArchiveProductInput = z.input<typeof archiveProductInput>;

export const restockInput = z.object({
  productId: z.uuid(),
  /** Units to add; negative for a correction (breakage, a miscount). Never zero. */
  delta: z
    .number()
    .int()
    .min(-MAX_STOCK_DELTA)
    .max(MAX_STOCK_DELTA)
    .refine((d) => d !== 0, 'Must not be zero'),
});
export type RestockInput = z.input<typeof restockInput>;

// ---- The stock ledger ----

export const stockAdjustmentsInput = z.object({
  productId: z.uuid(),
  /** The last id of the previous page: newest first. */
  cursor: z.uuid().nullish(),
  limit: z.number().int().min(1).max(100).default(20),
});
export type StockAdjustmentsInput = z.input<typeof stockAdjustmentsInput>;

export const stockAdjustmentDto = z.object({
  id: z.uuid(),
  delta: z.number().int(),
  reason: z.enum(['initial', 'restock', 'correction']),
  /** Who made it (the admin's email); null for seeds and for accounts deleted since. */
  actorEmail: z.string().nullable(),
  at: z.date(),
});
export const stockAdjustmentPage = z.object({
  items: z.array(stockAdjustmentDto),
  nextCursor: z.uuid().nullable(),
});
export type StockAdjustmentPage = z.infer<typeof stockAdjustmentPage>;
