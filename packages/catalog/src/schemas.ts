import { z } from 'zod';

/** Opaque pagination cursor: the last item's id, base64url-encoded so clients do not build their own. */
export const cursorSchema = z
  .string()
  .max(64)
  .refine((c) => decodeCursor(c) !== null, { message: 'Invalid cursor' });

export const listProductsInput = z.object({
  cursor: cursorSchema.nullish(),
  limit: z.number().int().min(1).max(100).default(20),
  /** Words to find in name or description; each word matches as a prefix. */
  q: z.string().trim().max(200).optional(),
});
export type ListProductsInput = z.input<typeof listProductsInput>;

export const productKey = z.union([z.object({ id: z.uuid() }), z.object({ slug: z.string().min(1).max(120) })]);
export type ProductKey = z.infer<typeof productKey>;

export const productDto = z.object({
  id: z.uuid(),
  slug: z.string(),
  name: z.string(),
  description: z.string(),
  priceCents: z.number().int(),
  currency: z.string(),
  stock: z.number().int(),
  viewCount: z.number().int(),
  createdAt: z.date(),
  updatedAt: z.date(),
});
export type ProductDto = z.infer<typeof productDto>;

export const productPage = z.object({ items: z.array(productDto), nextCursor: z.string().nullable() });
export type ProductPage = z.infer<typeof productPage>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function encodeCursor(id: string): string {
  return Buffer.from(id).toString('base64url');
}

export function decodeCursor(cursor: string): string | null {
  const id = Buffer.from(cursor, 'base64url').toString();
  return UUID.test(id) ? id : null;
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
