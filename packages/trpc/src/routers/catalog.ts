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
import { lastEventIdInput, stockEvents, streamEvents } from '../events.ts';
import { publicProcedure, router } from '../trpc.ts';

const onStockChangeInput = z.object({
  productIds: z.array(z.uuid()).min(1).max(100),
  lastEventId: lastEventIdInput,
});

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

  /** Stock levels of these products as orders and restocks change them; public, resumable by event id. */
  onStockChange: publicProcedure.input(onStockChangeInput).subscription(({ ctx, input, signal }) => {
    const ids = new Set(input.productIds);
    return streamEvents(
      ctx,
      {
        topics: ['stock'],
        userId: null,
        filter: (e) => e.topic === 'stock' && e.userId === null && ids.has(String(e.payload.productId)),
        lastEventId: input.lastEventId,
        signal,
      },
      stockEvents,
    );
  }),
  ...catalogAdminProcedures,
});
