import {
  assertWatchableProducts,
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

  /**
   * Stock levels of these products as orders and restocks change them; public, resumable by event id.
   * Listed products only (admins: archived too); a product archived later keeps streaming to watchers
   * who had it.
   */
  onStockChange: publicProcedure.input(onStockChangeInput).subscription(async ({ ctx, input, signal }) => {
    // Checked before streaming: an unknown (or, for non-admins, archived) id answers NOT_FOUND at once.
    await assertWatchableProducts(ctx.em, input.productIds, {
      includeArchived: async () => (await ctx.session())?.user.role === 'admin',
    });
    const ids = new Set(input.productIds);
    return streamEvents(
      ctx,
      {
        topics: ['stock'],
        userId: null,
        filter: (e) => ids.has(String(e.payload.productId)),
        lastEventId: input.lastEventId,
        signal,
      },
      stockEvents,
    );
  }),
  ...catalogAdminProcedures,
});
