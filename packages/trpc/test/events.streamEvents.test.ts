/**
 * Subscriptions yield exactly their documented shape: tRPC 11's `.output()` would validate the returned
 * generator rather than each item, so `streamEvents` parses every mapped payload itself. Unknown keys
 * are dropped; an event that does not fit is logged and skipped, never sent and never the end of the
 * stream (a client resuming from the same id would otherwise meet it again forever).
 */
import { createEventHub, publishEvents } from '@keelson/realtime';
import { createProduct, testContext, useTestOrm } from '@keelson/testing';
import { appRouter, type Context, createCallerFactory } from '@keelson/trpc';
import { describe, expect, it } from 'vitest';

const createCaller = createCallerFactory(appRouter);

describe('subscription payloads', () => {
  const t = useTestOrm();

  it('are parsed against their schema: extra keys dropped, misfits skipped and logged', async () => {
    const hub = createEventHub({ orm: t.orm, url: t.db.url });
    await hub.start();
    const product = await createProduct(t.db.url, { priceCents: 100, stock: 5 });
    const errors: { obj: object; msg?: string }[] = [];
    const logger = { info() {}, warn() {}, error: (obj: object, msg?: string) => void errors.push({ obj, msg }) };
    const ctx: Context = { ...testContext(t.orm), events: hub, logger };
    try {
      await t.orm.em.fork().transactional((tx) =>
        publishEvents(tx, [
          { topic: 'stock', payload: { productId: product.id, stock: 4, internalNote: 'not for clients' } },
          { topic: 'stock', payload: { productId: product.id, stock: 'plenty' } },
          { topic: 'stock', payload: { productId: product.id, stock: 3 } },
        ]),
      );
      const stream = await createCaller(ctx).catalog.onStockChange({ productIds: [product.id], lastEventId: '0' });
      const got: unknown[] = [];
      // Leaving the loop returns the generator, which unsubscribes it from the hub.
      for await (const item of stream) {
        got.push(item);
        if (got.length === 2) break;
      }
      // tracked(id, data) reaches a server-side caller as [id, data, marker].
      const data = got.map((item) => (item as [string, Record<string, unknown>])[1]);
      expect(data.map((d) => Object.keys(d).sort())).toEqual([
        ['at', 'productId', 'stock'],
        ['at', 'productId', 'stock'],
      ]);
      expect(data.map((d) => d.stock)).toEqual([4, 3]);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ obj: { topic: 'stock' }, msg: 'event does not fit its schema' });
      expect(hub.subscriberCount).toBe(0);
    } finally {
      await hub.close();
    }
  });
});
