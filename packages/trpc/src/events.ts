/**
 * Realtime subscriptions on top of the process's EventHub. Each yields `tracked(id, data)`: the id is
 * the event's position in the outbox, so a client that reconnects (to this replica or another) sends it
 * back as `lastEventId` and gets what it missed, read from `app_event`, before live events; or, when
 * pruning removed some of that, EVENTS_EXPIRED (it must reload and subscribe afresh).
 */

import { AppError } from '@keelson/errors';
import { orderStatusSchema } from '@keelson/orders';
import { EventsExpiredError, type StoredEvent, type SubscribeOptions } from '@keelson/realtime';
import { tracked } from '@trpc/server';
import { z } from 'zod';
import type { Context } from './context.ts';
import { subscriptionSignal } from './liveSubscription.ts';
import { appError } from './trpc.ts';

/** A client's resume cursor: tRPC sends back the last `tracked` id it received. */
export const lastEventIdInput = z
  .string()
  .regex(/^\d{1,18}$/)
  .nullish();

/** What `orders.onStatusChange` yields (inside `tracked`). */
export const orderStatusEvent = z.object({
  orderId: z.uuid(),
  status: orderStatusSchema,
  /** The previous status; null for a new order. */
  from: orderStatusSchema.nullable(),
  /** When the change was committed (the outbox row's time). */
  at: z.date(),
});
export type OrderStatusEvent = z.infer<typeof orderStatusEvent>;

/** What `catalog.onStockChange` yields (inside `tracked`). */
export const stockEvent = z.object({
  productId: z.uuid(),
  stock: z.number().int().nonnegative(),
  at: z.date(),
});
export type StockEvent = z.infer<typeof stockEvent>;

/** The events of one subscription, mapped to what clients see, each tracked by its position in the outbox. */
export async function* streamEvents<T>(
  ctx: Pick<Context, 'events' | 'live' | 'logger'>,
  opts: Omit<SubscribeOptions, 'lastEventId' | 'signal'> & {
    lastEventId: string | null | undefined;
    signal: AbortSignal | undefined;
  },
  shape: { map: (event: StoredEvent) => unknown; schema: z.ZodType<T> },
) {
  if (!ctx.events) throw new AppError('INTERNAL', { message: 'Realtime events are not available here.' });
  const { lastEventId, ...rest } = opts;
  const signal = subscriptionSignal(ctx, opts.signal);
  try {
    for await (const event of ctx.events.subscribe({
      ...rest,
      lastEventId: lastEventId ? Number(lastEventId) : null,
      ...(signal ? { signal } : {}),
    })) {
      // tRPC 11's `.output()` would validate the generator, not each item, so the shape is enforced here.
      // An event that does not fit (a payload written by other code) is logged and skipped: ending the
      // stream instead would send the client back, with the same lastEventId, to the same event forever.
      const data = shape.schema.safeParse(shape.map(event));
      if (!data.success) {
        ctx.logger.error({ err: data.error, eventId: event.id, topic: event.topic }, 'event does not fit its schema');
        continue;
      }
      yield tracked(String(event.id), data.data);
    }
  } catch (err) {
    // Thrown while streaming, past the middleware that maps AppErrors for resolvers.
    if (err instanceof EventsExpiredError) {
      throw appError(
        new AppError('EVENTS_EXPIRED', {
          ...(err.reason === 'ahead'
            ? {
                message:
                  'This lastEventId is not in the event log; reload the state and subscribe without lastEventId.',
              }
            : {}),
          details: { lastEventId: String(err.cursor), reason: err.reason },
          cause: err,
        }),
      );
    }
    throw err;
  }
}

export const orderStatusEvents = {
  schema: orderStatusEvent,
  map: (e: StoredEvent) => ({
    orderId: e.payload.orderId,
    status: e.payload.status,
    from: e.payload.from ?? null,
    at: e.createdAt,
  }),
};

export const stockEvents = {
  schema: stockEvent,
  map: (e: StoredEvent) => ({ productId: e.payload.productId, stock: e.payload.stock, at: e.createdAt }),
};
