import { defineEntity, p } from '@mikro-orm/core';
import { uuidv7 } from '../ids.ts';
import { Product } from './Product.ts';
import { User } from './User.ts';

/**
 * One line of a customer's server-side cart. The cart itself is just the user's lines, so there is no
 * cart row to create, lock or leak. The price seen when the line was added is kept to flag changes.
 */
export const CartItemSchema = defineEntity({
  name: 'CartItem',
  tableName: 'cart_item',
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => uuidv7()),
    user: () => p.manyToOne(User).deleteRule('cascade'),
    product: () => p.manyToOne(Product).deleteRule('cascade').index(),
    quantity: p.integer(),
    /** The unit price when the customer last chose this quantity. */
    priceCentsSeen: p.integer(),
    addedAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
  uniques: [{ name: 'cart_item_user_product_unique', properties: ['user', 'product'] }],
  checks: [{ name: 'cart_item_quantity_check', expression: 'quantity >= 1 and quantity <= 99' }],
});

export class CartItem extends CartItemSchema.class {}
CartItemSchema.setClass(CartItem);
