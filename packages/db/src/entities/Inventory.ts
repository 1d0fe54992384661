import { defineEntity, p } from '@mikro-orm/core';
import { uuidv7 } from '../ids.ts';
import { Order } from './Order.ts';
import { Product } from './Product.ts';
import { User } from './User.ts';

export const stockAdjustmentReasons = ['initial', 'restock', 'correction'] as const;
export type StockAdjustmentReason = (typeof stockAdjustmentReasons)[number];

/**
 * Every change of stock that is not an order: the initial quantity and each restock. With the order
 * lines it accounts for all stock: `stock + units in live orders = sum(delta)` for every product,
 * which the commerce tests check after each scenario.
 */
export const StockAdjustmentSchema = defineEntity({
  name: 'StockAdjustment',
  tableName: 'stock_adjustment',
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => uuidv7()),
    product: () => p.manyToOne(Product).deleteRule('cascade').index(),
    delta: p.integer(),
    reason: p.enum(stockAdjustmentReasons),
    actorUser: () => p.manyToOne(User).nullable().deleteRule('set null'),
    at: p.datetime().onCreate(() => new Date()),
  },
});

export class StockAdjustment extends StockAdjustmentSchema.class {}
StockAdjustmentSchema.setClass(StockAdjustment);

/**
 * A checkout idempotency key: the first checkout with a key inserts it, in the checkout's transaction;
 * a concurrent one with the same key waits on the unique index until the first commits, then finds
 * the order. The hashes identify the cart and payment token the key was used for.
 */
export const IdempotencyKeySchema = defineEntity({
  name: 'IdempotencyKey',
  tableName: 'checkout_idempotency_key',
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => uuidv7()),
    user: () => p.manyToOne(User).deleteRule('cascade'),
    key: p.string().length(255),
    /** SHA-256 of the cart (products and quantities) the key was first used with. */
    cartHash: p.string().length(64),
    /** SHA-256 of the payment token it was used with. */
    tokenHash: p.string().length(64),
    /** Set before the checkout's transaction commits, so a committed key always has its order. */
    order: () => p.manyToOne(Order).nullable().deleteRule('cascade'),
    createdAt: p.datetime().onCreate(() => new Date()),
    /** Kept at least this long (24 h by default); the nightly cleanup deletes it afterwards. */
    expiresAt: p.datetime().index(),
  },
  uniques: [{ name: 'checkout_idempotency_key_user_key_unique', properties: ['user', 'key'] }],
});

export class IdempotencyKey extends IdempotencyKeySchema.class {}
IdempotencyKeySchema.setClass(IdempotencyKey);
