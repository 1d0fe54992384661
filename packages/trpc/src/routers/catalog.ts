import {
  getProduct,
  listProducts,
  listProductsInput,
  productDto,
  productKey,
  productPage,
  recordProductView,
} from '@keelson/catalog';
import { z } from 'zod';
import { publicProcedure, router } from '../trpc.ts';

export const catalogRouter = router({
  /** Active products, newest first; `q` searches name and description. */
  list: publicProcedure
    .input(listProductsInput)
    .output(productPage)
    .query(({ ctx, input }) => listProducts(ctx.em, input)),

  /** One active product by id or slug; NOT_FOUND otherwise. */
  get: publicProcedure
    .input(productKey)
    .output(productDto)
    .query(({ ctx, input }) => getProduct(ctx.em, input)),

  /** Records a view; the worker rolls views up into `viewCount`. */
  recordView: publicProcedure
    .input(z.object({ id: z.uuid() }))
    .output(z.object({ jobId: z.string() }))
    .mutation(({ ctx, input }) => recordProductView(ctx.em, { productId: input.id })),
});
