/**
 * Catalogue administration: every procedure needs the admin role. The domain functions announce each
 * change to every API process (NOTIFY on commit); this process also drops its own cached copy at once,
 * so an admin reads their own write even before the notification comes back.
 */
import {
  archiveProduct,
  archiveProductInput,
  createProduct,
  createProductInput,
  getAnyProduct,
  listStockAdjustments,
  type ProductDto,
  productDto,
  restockInput,
  restockProduct,
  stockAdjustmentPage,
  stockAdjustmentsInput,
  updateProduct,
  updateProductInput,
} from '@keelson/catalog';
import { z } from 'zod';
import type { Context } from '../context.ts';
import { adminProcedure } from '../trpc.ts';

function dropCached(ctx: Context, product: ProductDto): ProductDto {
  ctx.catalogCache?.invalidate([product.id]);
  return product;
}

export const catalogAdminProcedures = {
  /** A new product; SLUG_TAKEN when the slug is in use (archived products included). */
  create: adminProcedure
    .input(createProductInput)
    .output(productDto)
    .mutation(async ({ ctx, input }) => dropCached(ctx, await createProduct(ctx.em, input, { userId: ctx.user.id }))),

  /** Changes any field but stock (see `restock`). */
  update: adminProcedure
    .input(updateProductInput)
    .output(productDto)
    .mutation(async ({ ctx, input }) => dropCached(ctx, await updateProduct(ctx.em, input))),

  /** Archives (default) or, with `archived: false`, lists a product again. Carts are left alone. */
  archive: adminProcedure
    .input(archiveProductInput)
    .output(productDto)
    .mutation(async ({ ctx, input }) => dropCached(ctx, await archiveProduct(ctx.em, input))),

  /** Adds units, or removes them with a negative delta (a correction); never below zero. */
  restock: adminProcedure
    .input(restockInput)
    .output(productDto)
    .mutation(async ({ ctx, input }) => dropCached(ctx, await restockProduct(ctx.em, input, { userId: ctx.user.id }))),

  /** Any product by id, archived ones included (`get` serves listed products only). */
  getAny: adminProcedure
    .input(z.object({ id: z.uuid() }))
    .output(productDto)
    .query(({ ctx, input }) => getAnyProduct(ctx.em, input.id)),

  /** The product's stock ledger: initial stock, restocks and corrections with who made them, newest first. */
  stockAdjustments: adminProcedure
    .input(stockAdjustmentsInput)
    .output(stockAdjustmentPage)
    .query(({ ctx, input }) => listStockAdjustments(ctx.em, input)),
};
