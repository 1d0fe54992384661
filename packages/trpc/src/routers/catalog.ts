import {
  categoryCount,
  getProduct,
  listCategories,
  listProducts,
  listProductsInput,
  productDto,
  productKey,
  productPage,
  recordProductView,
} from '@keelson/catalog';
import { AppError } from '@keelson/errors';
import { z } from 'zod';
import { publicProcedure, router } from '../trpc.ts';
import { catalogAdminProcedures } from './catalogAdmin.ts';

export const catalogRouter = router({
  /**
   * Listed products: filters (category, price range, words), five sorts, keyset cursors. Only admins
   * may ask for archived products too (`includeArchived`); anyone else gets FORBIDDEN.
   */
  list: publicProcedure
    .input(listProductsInput)
    .output(productPage)
    .query(async ({ ctx, input }) => {
      if (input.includeArchived && (await ctx.session())?.user.role !== 'admin') {
        throw new AppError('FORBIDDEN', { message: 'Only admins may list archived products.' });
      }
      return listProducts(ctx.em, input);
    }),

  /** One listed product by id or slug; NOT_FOUND otherwise. Served from the process cache when warm. */
  get: publicProcedure
    .input(productKey)
    .output(productDto)
    .query(({ ctx, input }) => getProduct(ctx.em, input, { cache: ctx.catalogCache })),

  /** Categories that have listed products, with their counts, alphabetically. */
  categories: publicProcedure
    .input(z.void())
    .output(z.array(categoryCount))
    .query(({ ctx }) => listCategories(ctx.em, { cache: ctx.catalogCache })),

  /** Records a view; the worker rolls views up into `viewCount`. */
  recordView: publicProcedure
    .input(z.object({ id: z.uuid() }))
    .output(z.object({ jobId: z.string() }))
    .mutation(({ ctx, input }) => recordProductView(ctx.em, { productId: input.id })),

  ...catalogAdminProcedures,
});
