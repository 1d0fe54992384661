/** Inputs and outputs of the cart and order procedures, shared by the domain functions and the router. */
import { multiLineText, orderActors, orderStatuses, singleLineText } from '@keelson/db';
import { z } from 'zod';

export const MAX_QUANTITY = 99;
export const MAX_CART_LINES = 100;

const quantity = z.number().int().min(1).max(MAX_QUANTITY);

export const addItemInput = z.object({ productId: z.uuid(), quantity: quantity.default(1) });
export type AddItemInput = z.input<typeof addItemInput>;
export const updateItemInput = z.object({ productId: z.uuid(), quantity });
export type UpdateItemInput = z.infer<typeof updateItemInput>;
export const removeItemInput = z.object({ productId: z.uuid() });

export const cartLineDto = z.object({
  productId: z.uuid(),
  slug: z.string(),
  name: z.string(),
  imageUrl: z.string().nullable(),
  quantity: z.number().int(),
  /** The current price: what checkout will charge. */
  unitPriceCents: z.number().int(),
  lineTotalCents: z.number().int(),
  /** The price when the line was added or last changed, when it differs from the current one. */
  previousPriceCents: z.number().int().nullable(),
  priceChanged: z.boolean(),
  /** False once the product is archived: the line cannot be bought and is left out of the totals. */
  available: z.boolean(),
  /** Units in stock now; `insufficientStock` when fewer than the line's quantity. */
  stock: z.number().int(),
  insufficientStock: z.boolean(),
  addedAt: z.date(),
});
export type CartLineDto = z.infer<typeof cartLineDto>;

export const cartDto = z.object({
  lines: z.array(cartLineDto),
  currency: z.string(),
  itemCount: z.number().int(),
  subtotalCents: z.number().int(),
  taxRateBps: z.number().int(),
  taxCents: z.number().int(),
  totalCents: z.number().int(),
  /** Whether checkout would go through now: lines present, all available and in stock. */
  checkoutReady: z.boolean(),
});
export type CartDto = z.infer<typeof cartDto>;

export const checkoutInput = z.object({
  /**
   * Chosen by the client per checkout attempt (a UUID is ideal) and sent again on every retry of that
   * attempt: retries return the first attempt's order instead of creating another.
   */
  idempotencyKey: z
    .string()
    .min(8)
    .max(255)
    .regex(/^[\w.:-]+$/, 'letters, digits, and . _ : - only'),
  /** The payment provider's token for the card (sandbox: `tok_visa`, `tok_chargeDeclined`, `tok_processingError`). */
  paymentToken: z.string().min(1).max(255).regex(singleLineText.pattern, singleLineText.message),
  /** The total the customer agreed to; when given and prices moved since, checkout answers PRICE_CHANGED. */
  expectedTotalCents: z.number().int().min(0).optional(),
});
export type CheckoutInput = z.infer<typeof checkoutInput>;

export const orderStatusSchema = z.enum(orderStatuses);

export const orderLineDto = z.object({
  productId: z.uuid(),
  productName: z.string(),
  productSlug: z.string(),
  unitPriceCents: z.number().int(),
  quantity: z.number().int(),
  lineTotalCents: z.number().int(),
});

export const orderEventDto = z.object({
  fromStatus: orderStatusSchema.nullable(),
  toStatus: orderStatusSchema,
  actor: z.enum(orderActors),
  actorUserId: z.uuid().nullable(),
  note: z.string().nullable(),
  at: z.date(),
});

export const orderSummaryDto = z.object({
  id: z.uuid(),
  userId: z.uuid(),
  status: orderStatusSchema,
  currency: z.string(),
  itemCount: z.number().int(),
  subtotalCents: z.number().int(),
  taxRateBps: z.number().int(),
  taxCents: z.number().int(),
  totalCents: z.number().int(),
  /** Why the payment failed, when it did. */
  paymentError: z.string().nullable(),
  refunded: z.boolean(),
  createdAt: z.date(),
  updatedAt: z.date(),
});
export type OrderSummaryDto = z.infer<typeof orderSummaryDto>;

export const orderDto = orderSummaryDto.extend({
  lines: z.array(orderLineDto),
  history: z.array(orderEventDto),
});
export type OrderDto = z.infer<typeof orderDto>;

export const orderPage = z.object({ items: z.array(orderSummaryDto), nextCursor: z.string().nullable() });
export type OrderPage = z.infer<typeof orderPage>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const encodeOrderCursor = (id: string) => Buffer.from(id).toString('base64url');
export function decodeOrderCursor(cursor: string): string | null {
  const id = Buffer.from(cursor, 'base64url').toString();
  return UUID.test(id) ? id : null;
}
const orderCursor = z
  .string()
  .max(64)
  .refine((c) => decodeOrderCursor(c) !== null, { message: 'Invalid cursor' });

export const listOrdersInput = z.object({
  cursor: orderCursor.nullish(),
  limit: z.number().int().min(1).max(100).default(20),
  status: orderStatusSchema.optional(),
});
export type ListOrdersInput = z.input<typeof listOrdersInput>;

export const listAllOrdersInput = listOrdersInput
  .extend({
    /** Orders created at or after this instant. */
    from: z.date().optional(),
    /** Orders created before this instant. */
    to: z.date().optional(),
    userId: z.uuid().optional(),
  })
  .refine((v) => !v.from || !v.to || v.from < v.to, { message: '`from` must be before `to`', path: ['to'] });
export type ListAllOrdersInput = z.input<typeof listAllOrdersInput>;

export const orderIdInput = z.object({ id: z.uuid() });
/** A note is free text (see `multiLineText`): it is stored with the order's history. */
export const orderNoteInput = orderIdInput.extend({
  note: z.string().regex(multiLineText.pattern, multiLineText.message).trim().max(500).optional(),
});
