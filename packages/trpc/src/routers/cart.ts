import {
  addCartItem,
  addItemInput,
  type CommerceSettings,
  cartDto,
  clearCart,
  getCart,
  removeCartItem,
  removeItemInput,
  updateCartItem,
  updateItemInput,
} from '@keelson/orders';
import type { EntityManager } from '@mikro-orm/postgresql';
import { authedProcedure, router } from '../trpc.ts';

/** Waits for a change to the cart, then answers with the whole cart, priced now. */
async function thenCart(
  ctx: { em: EntityManager; user: { id: string }; commerce: CommerceSettings },
  change: Promise<void>,
) {
  await change;
  return getCart(ctx.em, ctx.user.id, ctx.commerce);
}

/**
 * The signed-in customer's cart. Every procedure answers with the whole cart, priced on the server now
 * (lines, subtotal, tax, total in minor units), flagging lines whose price or availability changed.
 */
export const cartRouter = router({
  get: authedProcedure.output(cartDto).query(({ ctx }) => getCart(ctx.em, ctx.user.id, ctx.commerce)),

  /** Adds units (to the product's line if there is one); archived products answer PRODUCT_UNAVAILABLE. */
  addItem: authedProcedure
    .input(addItemInput)
    .output(cartDto)
    .mutation(({ ctx, input }) => thenCart(ctx, addCartItem(ctx.em, ctx.user.id, input))),

  /** Sets a line's quantity (1–99). */
  updateItem: authedProcedure
    .input(updateItemInput)
    .output(cartDto)
    .mutation(({ ctx, input }) => thenCart(ctx, updateCartItem(ctx.em, ctx.user.id, input))),

  removeItem: authedProcedure
    .input(removeItemInput)
    .output(cartDto)
    .mutation(({ ctx, input }) => thenCart(ctx, removeCartItem(ctx.em, ctx.user.id, input.productId))),

  clear: authedProcedure.output(cartDto).mutation(({ ctx }) => thenCart(ctx, clearCart(ctx.em, ctx.user.id))),
});
