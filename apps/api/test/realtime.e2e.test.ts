/**
 * Realtime subscriptions across two real API processes sharing one database: events caused on one
 * process (or by the worker) reach subscribers of the other, a reconnecting client resumes from its
 * last event id on either, customers see only their own orders, and SSE works like WebSocket.
 */
import { closeClient, createClient, type KeelsonClient } from '@keelson/client';
import {
  createProduct,
  createUsers,
  eventually,
  freePort,
  sql,
  startProcess,
  startTestApi,
  startTestWorker,
} from '@keelson/testing';
import { describe, expect, it } from 'vitest';

interface Received {
  id: string;
  data: { orderId?: string; status?: string; from?: string | null; productId?: string; stock?: number };
}

/** Collects a subscription's events until `stop()`. */
function collect(
  subscribe: (handlers: { onData(e: Received): void; onError(err: unknown): void }) => { unsubscribe(): void },
) {
  const events: Received[] = [];
  const errors: unknown[] = [];
  const sub = subscribe({ onData: (e) => events.push(e), onError: (err) => errors.push(err) });
  return { events, errors, stop: () => sub.unsubscribe() };
}

const maxEventId = async (url: string) =>
  String(
    (await sql<{ position: string | null }>(url, 'select max(position)::text as position from app_event'))[0]
      ?.position ?? '0',
  );

describe('realtime subscriptions across API processes', () => {
  it('delivers, resumes on another process, authorizes, and works over SSE', { timeout: 90_000 }, async () => {
    await using api0 = await startTestApi();
    const url = api0.db.url;
    const product = await createProduct(url, { priceCents: 500, stock: 100 });
    const [alice, bob] = await createUsers(url, 2, { prefix: 'rt' });
    const [admin] = await createUsers(url, 1, { role: 'admin', prefix: 'rtadmin' });
    const [portA, portB] = [await freePort(), await freePort()];
    const env = (port: number) => ({ DATABASE_URL: url, PORT: String(port), LOG_LEVEL: 'info' });
    await using procA = startProcess('apps/api/src/main.ts', env(portA));
    await using procB = startProcess('apps/api/src/main.ts', env(portB));
    await Promise.all([procA.waitFor(/api listening/), procB.waitFor(/api listening/)]);
    const worker = await startTestWorker({ db: api0.db });
    // One LISTEN connection per API process (api0, A and B), carrying both the events and the catalogue
    // cache's channels.
    const listeners = await sql<{ application_name: string; n: number }>(
      url,
      `select application_name, count(*)::int as n from pg_stat_activity
       where datname = current_database() and application_name in ('keelson-listener', 'keelson-events')
       group by application_name`,
    );
    expect(listeners).toEqual([{ application_name: 'keelson-listener', n: 3 }]);
    const at = (port: number) => `http://127.0.0.1:${port}/trpc`;
    const clients: KeelsonClient[] = [];
    const client = (port: number, token: string | undefined, transport?: 'sse') => {
      const c = createClient({ url: at(port), token: () => token, ...(transport ? { transport } : {}) });
      clients.push(c);
      return c;
    };
    try {
      const aliceOnA = client(portA, alice!.token);
      const bobOnA = client(portA, bob!.token);
      const aliceOnB = client(portB, alice!.token);
      const adminOnB = client(portB, admin!.token);

      // Subscribing from the current cursor: nothing committed after it can be missed, however long
      // the subscription takes to start on the server.
      const start = await maxEventId(url);
      const aliceSub = collect((h) => aliceOnA.orders.onStatusChange.subscribe({ lastEventId: start }, h));
      const bobSub = collect((h) => bobOnA.orders.onStatusChange.subscribe({ lastEventId: start }, h));

      // A mutation on B, then the worker's payment: both reach Alice's subscription on A.
      await aliceOnB.cart.addItem.mutate({ productId: product.id, quantity: 1 });
      const order = await aliceOnB.orders.checkout.mutate({
        idempotencyKey: crypto.randomUUID(),
        paymentToken: 'tok_visa',
      });
      await eventually(async () => aliceSub.events.length >= 2, 20_000);
      expect(aliceSub.events.map((e) => [e.data.orderId, e.data.from, e.data.status])).toEqual([
        [order.id, null, 'pending_payment'],
        [order.id, 'pending_payment', 'paid'],
      ]);

      // Resume: disconnect, three changes, reconnect to the other process with the last id seen.
      aliceSub.stop();
      const lastSeen = aliceSub.events.at(-1)!.id;
      await adminOnB.orders.markShipped.mutate({ id: order.id });
      await adminOnB.orders.markDelivered.mutate({ id: order.id });
      await adminOnB.orders.refund.mutate({ id: order.id });
      const resumed = collect((h) => aliceOnB.orders.onStatusChange.subscribe({ lastEventId: lastSeen }, h));
      await eventually(async () => resumed.events.length >= 3, 10_000);
      expect(resumed.events.map((e) => e.data.status)).toEqual(['shipped', 'delivered', 'refunded']);
      const ids = resumed.events.map((e) => BigInt(e.id));
      expect(ids).toEqual([...ids].sort((x, y) => (x < y ? -1 : 1)));
      expect(ids[0]! > BigInt(lastSeen)).toBe(true);

      // SSE: the whole history of the order (bearer token in a header), and public stock changes.
      const aliceSse = client(portA, alice!.token, 'sse');
      const history = collect((h) =>
        aliceSse.orders.onStatusChange.subscribe({ orderId: order.id, lastEventId: '0' }, h),
      );
      await eventually(async () => history.events.length >= 5, 10_000);
      expect(history.events.map((e) => e.data.status)).toEqual([
        'pending_payment',
        'paid',
        'shipped',
        'delivered',
        'refunded',
      ]);
      const anonymousSse = client(portA, undefined, 'sse');
      const stock = collect((h) =>
        anonymousSse.catalog.onStockChange.subscribe({ productIds: [product.id], lastEventId: start }, h),
      );
      await adminOnB.catalog.restock.mutate({ productId: product.id, delta: 5 });
      await eventually(async () => stock.events.some((e) => e.data.stock === 104), 10_000);

      // Killing the LISTEN connections: the processes reconnect and catch up with what was committed meanwhile.
      await sql(
        url,
        `select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'keelson-listener' and datname = current_database()`,
      );
      await adminOnB.catalog.restock.mutate({ productId: product.id, delta: 1 });
      await eventually(async () => stock.events.some((e) => e.data.stock === 105), 15_000);

      // Bob saw none of Alice's events, and nothing failed.
      expect(bobSub.events).toEqual([]);
      expect([...aliceSub.errors, ...bobSub.errors, ...resumed.errors, ...history.errors, ...stock.errors]).toEqual([]);
      for (const s of [bobSub, resumed, history, stock]) s.stop();
    } finally {
      await Promise.all(clients.map((c) => closeClient(c)));
      await worker.stop();
    }
  });
});
