/**
 * The inbox end to end: real API processes' event hubs, a real worker, and real WebSocket clients. The
 * business events of real flows (a card payment taken by the worker, an admin shipping, a declined
 * card, a report generated) each reach their user's `notifications.onNew` live; a client resumes with
 * `lastEventId` on another API instance and gets exactly what it missed; nobody receives anyone else's.
 */
import type { KeelsonClient } from '@keelson/client';
import {
  createProduct,
  createUsers,
  eventually,
  sql,
  startTestApi,
  startTestWorker,
  type TestUser,
} from '@keelson/testing';
import { describe, expect, it } from 'vitest';

interface Received {
  id: string;
  data: { id: string; kind: string; title: string; data: Record<string, unknown>; readAt: Date | null };
}

/** Collects a subscription's notifications until `stop()`. */
function collect(client: KeelsonClient, lastEventId: string) {
  const events: Received[] = [];
  const errors: unknown[] = [];
  const sub = client.notifications.onNew.subscribe(
    { lastEventId },
    { onData: (e) => events.push(e as Received), onError: (err) => errors.push(err) },
  );
  return { events, errors, stop: () => sub.unsubscribe() };
}

const maxEventId = async (url: string) =>
  String((await sql<{ id: string | null }>(url, 'select max(id)::text as id from app_event'))[0]?.id ?? '0');

describe('notifications over WebSocket', () => {
  it('delivers each business event to its user live, resumes elsewhere, and never crosses users', {
    timeout: 120_000,
  }, async () => {
    await using apiA = await startTestApi();
    await using apiB = await startTestApi({ db: apiA.db });
    const url = apiA.db.url;
    await using _worker = await startTestWorker({ db: apiA.db });
    const product = await createProduct(url, { priceCents: 800, stock: 50 });
    const [alice, bob] = await createUsers(url, 2, { prefix: 'ntf' });
    const [admin] = await createUsers(url, 1, { role: 'admin', prefix: 'ntfadmin' });
    const on = (api: typeof apiA, user: TestUser) => api.newClient({ token: () => user.token });
    const aliceOnA = on(apiA, alice!);
    const aliceOnB = on(apiB, alice!);
    const bobOnA = on(apiA, bob!);
    const adminOnB = on(apiB, admin!);
    const buy = async (client: KeelsonClient, paymentToken: string) => {
      await client.cart.addItem.mutate({ productId: product.id, quantity: 1 });
      return client.orders.checkout.mutate({ idempotencyKey: crypto.randomUUID(), paymentToken });
    };

    // From the current cursor: nothing filed after it can be missed, however long subscribing takes.
    const start = await maxEventId(url);
    const aliceLive = collect(aliceOnA, start);
    const bobLive = collect(bobOnA, start);
    const adminLive = collect(adminOnB, start);

    // Live: the worker takes Alice's payment; her subscription on A hears of it.
    const first = await buy(aliceOnB, 'tok_visa');
    await eventually(async () => aliceLive.events.length >= 1, 30_000);
    expect(aliceLive.events.map((e) => [e.data.kind, e.data.data.orderId])).toEqual([['order_paid', first.id]]);
    expect(aliceLive.events[0]!.data.readAt).toBeNull();

    // Resume: Alice goes away; her order ships and her next card is declined; she comes back on B.
    aliceLive.stop();
    const lastSeen = aliceLive.events.at(-1)!.id;
    await adminOnB.orders.markShipped.mutate({ id: first.id });
    const declined = await buy(aliceOnB, 'tok_chargeDeclined');
    await eventually(
      async () => (await aliceOnB.notifications.list.query({})).items.some((n) => n.kind === 'payment_failed'),
      30_000,
    );
    const resumed = collect(aliceOnB, lastSeen);
    await eventually(async () => resumed.events.length >= 2, 15_000);
    expect(resumed.events.map((e) => [e.data.kind, e.data.data.orderId])).toEqual([
      ['order_shipped', first.id],
      ['payment_failed', declined.id],
    ]);
    const ids = resumed.events.map((e) => BigInt(e.id));
    expect(ids[0]! > BigInt(lastSeen) && ids[0]! < ids[1]!).toBe(true);

    // The admin who asked for a report hears when it is ready.
    const report = await adminOnB.reports.requestSales.mutate({
      from: new Date(Date.now() - 86_400_000),
      to: new Date(Date.now() + 60_000),
      groupBy: 'day',
    });
    await eventually(async () => adminLive.events.length >= 1, 30_000);
    expect(adminLive.events.map((e) => [e.data.kind, e.data.data.reportId])).toEqual([['report_ready', report.id]]);

    // Bob's own payment reaches him; by then every one of Alice's and the admin's events has passed
    // his subscription's filter, and none got through. Replaying all history shows the same.
    const bobsOrder = await buy(bobOnA, 'tok_visa');
    await eventually(async () => bobLive.events.length >= 1, 30_000);
    const bobHistory = collect(bobOnA, '0');
    await eventually(async () => bobHistory.events.length >= 1, 15_000);
    for (const seen of [bobLive.events, bobHistory.events]) {
      expect(seen.map((e) => [e.data.kind, e.data.data.orderId])).toEqual([['order_paid', bobsOrder.id]]);
    }

    // The inbox says the same, newest first; reading it all clears the count.
    const inbox = await aliceOnA.notifications.list.query({});
    expect(inbox.items.map((n) => n.kind)).toEqual(['payment_failed', 'order_shipped', 'order_paid']);
    expect(inbox.unreadCount).toBe(3);
    expect(await aliceOnA.notifications.markRead.mutate({ all: true })).toEqual({ marked: 3, unreadCount: 0 });

    expect([
      ...aliceLive.errors,
      ...resumed.errors,
      ...bobLive.errors,
      ...bobHistory.errors,
      ...adminLive.errors,
    ]).toEqual([]);
    for (const s of [resumed, bobLive, bobHistory, adminLive]) s.stop();
    // Unsubscribing ends the server-side iterations too: no subscriber is left on either hub.
    await eventually(async () => apiA.app.events.subscriberCount + apiB.app.events.subscriberCount === 0, 10_000);
  });
});
