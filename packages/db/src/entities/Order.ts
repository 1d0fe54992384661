import { defineEntity, p } from '@mikro-orm/core';
import { uuidv7 } from '../ids.ts';
import { Product } from './Product.ts';
import { User } from './User.ts';

export const orderStatuses = [
  'pending_payment',
  'paid',
  'shipped',
  'delivered',
  'cancelled',
  'payment_failed',
  'refunded',
] as const;
export type OrderStatus = (typeof orderStatuses)[number];

export const orderActors = ['customer', 'admin', 'system'] as const;
export type OrderActor = (typeof orderActors)[number];

/**
 * An order: prices, tax and totals are snapshots taken at checkout, so later catalogue changes never
 * alter it. `status` changes only through the state machine in `@keelson/orders`.
 */
export const OrderSchema = defineEntity({
  name: 'Order',
  tableName: 'store_order',
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => uuidv7()),
    user: () => p.manyToOne(User).deleteRule('restrict'),
    status: p.enum(orderStatuses).default('pending_payment'),
    currency: p.string().length(3),
    // Amounts are bigint: the largest cart (100 lines × 99 units × the maximum price) exceeds int4.
    subtotalCents: p.bigint('number'),
    /** Tax rate applied, in basis points (1 % = 100). */
    taxRateBps: p.integer(),
    taxCents: p.bigint('number'),
    totalCents: p.bigint('number'),
    /** The provider's payment token, kept only until the payment is captured or declined. */
    paymentToken: p.string().length(255).nullable().hidden(),
    paymentAuthorizationId: p.string().length(255).nullable(),
    paymentCaptureId: p.string().length(255).nullable(),
    paymentRefundId: p.string().length(255).nullable(),
    /** Why the payment failed, as the provider said it (shown to the customer). */
    paymentError: p.string().length(500).nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
  indexes: [
    // A customer's orders, newest first (keyset on the UUIDv7 id).
    { name: 'store_order_user_id_idx', properties: ['user', 'id'] },
    // Admin listing by status, newest first.
    { name: 'store_order_status_id_idx', properties: ['status', 'id'] },
    { name: 'store_order_created_at_idx', properties: ['createdAt'] },
  ],
  checks: [
    {
      name: 'store_order_amounts_check',
      expression: 'subtotal_cents >= 0 and tax_cents >= 0 and total_cents = subtotal_cents + tax_cents',
    },
  ],
});

export class Order extends OrderSchema.class {}
OrderSchema.setClass(Order);

/** What was bought: the product as it was at checkout (name and price copied, so archiving changes nothing). */
export const OrderLineSchema = defineEntity({
  name: 'OrderLine',
  tableName: 'order_line',
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => uuidv7()),
    order: () => p.manyToOne(Order).deleteRule('cascade').index(),
    product: () => p.manyToOne(Product).deleteRule('restrict').index(),
    productName: p.string().length(200),
    productSlug: p.string().length(120),
    unitPriceCents: p.integer(),
    quantity: p.integer(),
    lineTotalCents: p.bigint('number'),
  },
  checks: [
    { name: 'order_line_quantity_check', expression: 'quantity >= 1 and quantity <= 99' },
    { name: 'order_line_total_check', expression: 'line_total_cents = unit_price_cents::bigint * quantity' },
  ],
});

export class OrderLine extends OrderLineSchema.class {}
OrderLineSchema.setClass(OrderLine);

/** The order's history: one row per status change, with who made it and when. Append-only. */
export const OrderEventSchema = defineEntity({
  name: 'OrderEvent',
  tableName: 'order_event',
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => uuidv7()),
    order: () => p.manyToOne(Order).deleteRule('cascade').index(),
    /** Null for the order's creation. */
    fromStatus: p.enum(orderStatuses).nullable(),
    toStatus: p.enum(orderStatuses),
    actor: p.enum(orderActors),
    /** The user who acted; null for the system (the worker). */
    actorUser: () => p.manyToOne(User).nullable().deleteRule('set null'),
    note: p.string().length(500).nullable(),
    at: p.datetime().onCreate(() => new Date()),
  },
});

export class OrderEvent extends OrderEventSchema.class {}
OrderEventSchema.setClass(OrderEvent);
