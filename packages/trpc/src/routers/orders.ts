import { AppError } from '@keelson/errors';
import {
  cancelOrder,
  checkout,
  checkoutInput,
  getOrder,
  listAllOrders,
  listAllOrdersInput,
  listOrdersInput,
  listOwnOrders,
  markDelivered,
  markShipped,
  orderDto,
  orderIdInput,
  orderNoteInput,
  orderOwner,
  orderPage,
  refundOrder,
} from '@keelson/orders';
import type { StoredEvent } from '@keelson/realtime';
import { z } from 'zod';
import { lastEventIdInput, orderStatusEvents, streamEvents } from '../events.ts';
import { adminProcedure, authedProcedure, router } from '../trpc.ts';

const onStatusChangeInput = z.object({
  /** One order; without it, every order the caller may see (a customer's own, an admin's all). */
  orderId: z.uuid().optional(),
  lastEventId: lastEventIdInput,
});

/** Customers see and act on their own orders only: anyone else's answers ORDER_NOT_FOUND. */
export const ordersRouter = router({
  /**
   * Status changes of the caller's orders (an admin: anyone's), tracked by event id: reconnecting with
   * `lastEventId` delivers the missed ones first, from any API process.
   */
  onStatusChange: authedProcedure.input(onStatusChangeInput).subscription(async ({ ctx, input, signal }) => {
    const admin = ctx.user.role === 'admin';
    if (input.orderId) {
      // Checked before streaming, so another customer's order id answers NOT_FOUND at once.
      const owner = await orderOwner(ctx.em, input.orderId);
      if (!owner || (!admin && owner !== ctx.user.id)) {
        throw new AppError('ORDER_NOT_FOUND', { details: { id: input.orderId } });
      }
    }
    const userId = ctx.user.id;
    return streamEvents(
      ctx,
      {
        topics: ['order'],
        // The hub applies the topic and, for customers, the user to live events and back-fills alike.
        ...(admin ? {} : { userId }),
        ...(input.orderId ? { filter: (e: StoredEvent) => e.payload.orderId === input.orderId } : {}),
        lastEventId: input.lastEventId,
        signal,
      },
      orderStatusEvents,
    );
  }),

  /**
   * Turns the cart into an order (`pending_payment`), reserving stock; the worker then takes the payment.
   * Retrying with the same `idempotencyKey` returns the same order.
   */
  checkout: authedProcedure
    .input(checkoutInput)
    .output(orderDto)
    .mutation(({ ctx, input }) =>
      checkout(ctx.em, {
        userId: ctx.user.id,
        input,
        settings: ctx.commerce,
        onPlaced: () => ctx.metrics?.orderPlaced(),
      }),
    ),

  list: authedProcedure
    .input(listOrdersInput)
    .output(orderPage)
    .query(({ ctx, input }) => listOwnOrders(ctx.em, ctx.user.id, input)),

  get: authedProcedure
    .input(orderIdInput)
    .output(orderDto)
    .query(({ ctx, input }) => getOrder(ctx.em, input.id, ctx.user.id)),

  /** Cancels a pending or paid order of one's own: stock returned, a paid order refunded. */
  cancel: authedProcedure
    .input(orderIdInput)
    .output(orderDto)
    .mutation(({ ctx, input }) =>
      cancelOrder(ctx.em, {
        orderId: input.id,
        ownerId: ctx.user.id,
        actor: { type: 'customer', userId: ctx.user.id },
      }),
    ),

  /** Admin: every order, by status, creation time range and customer. */
  listAll: adminProcedure
    .input(listAllOrdersInput)
    .output(orderPage)
    .query(({ ctx, input }) => listAllOrders(ctx.em, input)),

  /** Admin: one order, whoever placed it. */
  getAny: adminProcedure
    .input(orderIdInput)
    .output(orderDto)
    .query(({ ctx, input }) => getOrder(ctx.em, input.id)),

  markShipped: adminProcedure
    .input(orderNoteInput)
    .output(orderDto)
    .mutation(({ ctx, input }) =>
      markShipped(ctx.em, { orderId: input.id, note: input.note, actor: { type: 'admin', userId: ctx.user.id } }),
    ),

  markDelivered: adminProcedure
    .input(orderNoteInput)
    .output(orderDto)
    .mutation(({ ctx, input }) =>
      markDelivered(ctx.em, { orderId: input.id, note: input.note, actor: { type: 'admin', userId: ctx.user.id } }),
    ),

  /** Admin: money back. A paid order is cancelled (stock returned); a shipped or delivered one becomes refunded. */
  refund: adminProcedure
    .input(orderNoteInput)
    .output(orderDto)
    .mutation(({ ctx, input }) =>
      refundOrder(ctx.em, { orderId: input.id, note: input.note, actor: { type: 'admin', userId: ctx.user.id } }),
    ),
});
