import {
  addCartItem,
  addItemInput,
  cartDto,
  clearCart,
  getCart,
  removeCartItem,
  removeItemInput,
  updateCartItem,
  updateItemInput,
} from '@keelson/orders';
import { authedProcedure, router } from '../trpc.ts';

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
    .mutation(async ({ ctx, input }) => {
      await addCartItem(ctx.em, ctx.user.id, input);
      return getCart(ctx.em, ctx.user.id, ctx.commerce);
    }),

  /** Sets a line's quantity (1–99). */
  updateItem: authedProcedure
    .input(updateItemInput)
    .output(cartDto)
    .mutation(async ({ ctx, input }) => {
      await updateCartItem(ctx.em, ctx.user.id, input);
      return getCart(ctx.em, ctx.user.id, ctx.commerce);
    }),

  removeItem: authedProcedure
    .input(removeItemInput)
    .output(cartDto)
    .mutation(async ({ ctx, input }) => {
      await removeCartItem(ctx.em, ctx.user.id, input.productId);
      return getCart(ctx.em, ctx.user.id, ctx.commerce);
    }),

  clear: authedProcedure.output(cartDto).mutation(async ({ ctx }) => {
    await clearCart(ctx.em, ctx.user.id);
    return getCart(ctx.em, ctx.user.id, ctx.commerce);
  }),
});
