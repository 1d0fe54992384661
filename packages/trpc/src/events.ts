/**
 * Realtime subscriptions on top of the process's EventHub. Each yields `tracked(id, data)`: the id is
 * the event's position in the outbox, so a client that reconnects (to this replica or another) sends it
 * back as `lastEventId` and gets what it missed, read from `app_event`, before live events; or, when
 * pruning removed some of that, EVENTS_EXPIRED (it must reload and subscribe afresh).
 */
import { EventsExpiredError, type StoredEvent, type SubscribeOptions } from '@keelson/db';
import { AppError } from '@keelson/errors';
import { tracked } from '@trpc/server';
import { z } from 'zod';
import type { Context } from './context.ts';
import { appError } from './trpc.ts';

/** A client's resume cursor: tRPC sends back the last `tracked` id it received. */
export const lastEventIdInput = z
  .string()
  .regex(/^\d{1,18}$/)
  .nullish();

export interface OrderStatusEvent {
  orderId: string;
  status: string;
  from: string | null;
  at: Date;
}

export interface StockEvent {
  productId: string;
  stock: number;
  at: Date;
}

/** The events of one subscription, mapped to what clients see, each tracked by its position in the outbox. */
export async function* streamEvents<T>(
  ctx: Pick<Context, 'events'>,
  opts: Omit<SubscribeOptions, 'lastEventId' | 'signal'> & {
    lastEventId: string | null | undefined;
    signal: AbortSignal | undefined;
  },
  map: (event: StoredEvent) => T,
) {
  if (!ctx.events) throw new AppError('INTERNAL', { message: 'Realtime events are not available here.' });
  const { lastEventId, signal, ...rest } = opts;
  try {
    for await (const event of ctx.events.subscribe({
      ...rest,
      lastEventId: lastEventId ? Number(lastEventId) : null,
      ...(signal ? { signal } : {}),
    })) {
      yield tracked(String(event.id), map(event));
    }
  } catch (err) {
    // Thrown while streaming, past the middleware that maps AppErrors for resolvers.
    if (err instanceof EventsExpiredError) {
      throw appError(new AppError('EVENTS_EXPIRED', { details: { lastEventId: String(err.cursor) }, cause: err }));
    }
    throw err;
  }
}

export const toOrderStatusEvent = (e: StoredEvent): OrderStatusEvent => ({
  orderId: String(e.payload.orderId),
  status: String(e.payload.status),
  from: e.payload.from == null ? null : String(e.payload.from),
  at: e.createdAt,
});

export const toStockEvent = (e: StoredEvent): StockEvent => ({
  productId: String(e.payload.productId),
  stock: Number(e.payload.stock),
  at: e.createdAt,
});
