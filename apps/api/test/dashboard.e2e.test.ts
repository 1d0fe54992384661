/**
 * `dashboard.live` over real WebSockets against the real app: after real orders (placed through the
 * API, paid or declined by the worker) the figures equal what the raw rows say, 20 watchers share one
 * query per tick, customers are refused, and the ticker stops when the last watcher leaves.
 */
import type { DashboardSnapshot as Snapshot } from '@keelson/analytics';
import { TRPCClientError } from '@keelson/client';
import { createProduct, createUsers, eventually, sql, startTestApi, startTestWorker } from '@keelson/testing';
import { describe, expect, it } from 'vitest';

const MINUTE = 60_000;
const paidStatuses = new Set(['paid', 'shipped', 'delivered']);

/** The figures recomputed in JavaScript from the raw rows, as of the snapshot's own clock. */
async function expectedFigures(url: string, at: Date) {
  const now = at.getTime();
  const orders = await sql<{ created_at: Date; status: string; total_cents: string }>(
    url,
    'select created_at, status, total_cents from store_order',
  );
  const carts = await sql<{ user_id: string; updated_at: Date }>(url, 'select user_id, updated_at from cart_item');
  const jobs = await sql<{ run_at: Date; locked_at: Date | null; attempts: number; max_attempts: number }>(
    url,
    'select run_at, locked_at, attempts, max_attempts from graphile_worker._private_jobs',
  );
  const placed = orders.map((o) => ({ ...o, t: o.created_at.getTime() })).filter((o) => o.t <= now);
  const firstMinute = Math.floor(now / MINUTE) * MINUTE - 59 * MINUTE;
  const startOfDayUtc = Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate());
  return {
    ordersLastMinute: placed.filter((o) => o.t > now - MINUTE).length,
    ordersPerMinute: Array.from(
      { length: 60 },
      (_, i) => placed.filter((o) => Math.floor(o.t / MINUTE) * MINUTE === firstMinute + i * MINUTE).length,
    ),
    revenueTodayCents: placed
      .filter((o) => o.t >= startOfDayUtc && paidStatuses.has(o.status))
      .reduce((sum, o) => sum + Number(o.total_cents), 0),
    activeCarts: new Set(carts.filter((c) => c.updated_at.getTime() > now - 30 * MINUTE).map((c) => c.user_id)).size,
    jobsReady: jobs.filter((j) => !j.locked_at && j.run_at.getTime() <= now && j.attempts < j.max_attempts).length,
    jobsLocked: jobs.filter((j) => j.locked_at).length,
  };
}

/** Collects a subscription's snapshots and errors until `stop()`. */
function watch(subscribe: (h: { onData(s: Snapshot): void; onError(err: unknown): void }) => { unsubscribe(): void }) {
  const got: Snapshot[] = [];
  const errors: unknown[] = [];
  const sub = subscribe({ onData: (s) => got.push(s), onError: (err) => errors.push(err) });
  return { got, errors, stop: () => sub.unsubscribe() };
}

describe('dashboard.live', () => {
  it('reports what the rows say, shares one query per tick, refuses customers, and stops when unwatched', {
    timeout: 90_000,
  }, async () => {
    await using api = await startTestApi({ config: { DASHBOARD_INTERVAL_MS: '500' } });
    const url = api.db.url;
    const product = await createProduct(url, { priceCents: 1250, stock: 100 });
    const customers = await createUsers(url, 4, { prefix: 'dash' });
    const [admin] = await createUsers(url, 1, { role: 'admin', prefix: 'dashadmin' });

    // History the windows must place: an order ten minutes ago (in the series, not the last minute) and
    // one two days ago (in nothing); a cart line untouched for two hours (not active).
    for (const [ago, cents] of [
      ['10 minutes', 700],
      ['2 days', 900],
    ] as const) {
      await sql(
        url,
        `insert into store_order (id, user_id, status, currency, subtotal_cents, tax_rate_bps, tax_cents, total_cents, created_at, updated_at)
         values (gen_random_uuid(), $1, 'paid', 'USD', $2, 0, 0, $2, now() - $3::interval, now())`,
        [customers[3]!.id, cents, ago],
      );
    }
    const [oldCartOwner] = await createUsers(url, 1, { prefix: 'dashold' });
    await sql(
      url,
      `insert into cart_item (id, user_id, product_id, quantity, price_cents_seen, added_at, updated_at)
       values (gen_random_uuid(), $1, $2, 1, 1250, now() - interval '2 hours', now() - interval '2 hours')`,
      [oldCartOwner!.id, product.id],
    );

    // Real orders through the API: two paid, one declined by the worker; a fourth customer only has a cart.
    const worker = await startTestWorker({ db: api.db });
    try {
      for (const [i, paymentToken] of ['tok_visa', 'tok_visa', 'tok_chargeDeclined'].entries()) {
        const shopper = api.newClient({ token: () => customers[i]!.token });
        await shopper.cart.addItem.mutate({ productId: product.id, quantity: 1 });
        await shopper.orders.checkout.mutate({ idempotencyKey: crypto.randomUUID(), paymentToken });
      }
      await api
        .newClient({ token: () => customers[3]!.token })
        .cart.addItem.mutate({ productId: product.id, quantity: 2 });
      await eventually(async () => {
        const rows = await sql<{ status: string }>(
          url,
          `select status from store_order where status = 'pending_payment'`,
        );
        return rows.length === 0;
      }, 30_000);
    } finally {
      await worker.stop();
    }
    // Jobs nobody runs now the worker is stopped: two due, one scheduled for tomorrow, one locked.
    await sql(
      url,
      `select graphile_worker.add_job('catalog__refresh_view_count', json_build_object('productId', $1::text), job_key => 'dash-' || n)
       from generate_series(1, 2) as n`,
      [product.id],
    );
    await sql(
      url,
      `select graphile_worker.add_job('catalog__refresh_view_count', json_build_object('productId', $1::text), run_at => now() + interval '1 day')`,
      [product.id],
    );
    await sql(
      url,
      `update graphile_worker._private_jobs set locked_at = now(), locked_by = 'dashboard-test'
       where id = (select max(id) from graphile_worker._private_jobs where locked_at is null and run_at <= now())`,
    );
    const settled = (await sql<{ settled: Date }>(url, 'select now() as settled'))[0]!.settled;

    // A customer is refused over the socket, and so is an anonymous caller.
    const customerWatch = watch((h) =>
      api.newClient({ token: () => customers[0]!.token }).dashboard.live.subscribe(undefined, h),
    );
    const anonymousWatch = watch((h) => api.newClient().dashboard.live.subscribe(undefined, h));
    await eventually(async () => customerWatch.errors.length > 0 && anonymousWatch.errors.length > 0);
    const codeOf = (err: unknown) => (err instanceof TRPCClientError ? err.data?.code : String(err));
    expect(codeOf(customerWatch.errors[0])).toBe('FORBIDDEN');
    expect(codeOf(anonymousWatch.errors[0])).toBe('UNAUTHORIZED');
    expect([...customerWatch.got, ...anonymousWatch.got]).toEqual([]);

    // 20 admin watchers on 4 sockets.
    const admins = Array.from({ length: 4 }, () => api.newClient({ token: () => admin!.token }));
    const watchers = Array.from({ length: 20 }, (_, i) =>
      watch((h) => admins[i % 4]!.dashboard.live.subscribe(undefined, h)),
    );
    await eventually(async () => api.app.dashboard.subscriberCount === 20, 20_000);

    // The figures of a snapshot taken after everything settled equal the raw rows'.
    const first = watchers[0]!;
    const snapshot = await eventually(async () => first.got.find((s) => s.at > settled), 20_000);
    expect(snapshot.at).toBeInstanceOf(Date);
    const expected = await expectedFigures(url, snapshot.at);
    expect(snapshot).toEqual({ at: snapshot.at, ...expected });
    // And what the rows say is what this test did.
    expect(snapshot.ordersLastMinute).toBe(3);
    expect(snapshot.ordersPerMinute.reduce((a, b) => a + b, 0)).toBe(4);
    const olderToday = (
      await sql<{ today: boolean }>(
        url,
        `select (now() - interval '10 minutes') >= date_trunc('day', now(), 'UTC') as today`,
      )
    )[0]!.today;
    expect(snapshot.revenueTodayCents).toBe(2 * 1250 + (olderToday ? 700 : 0));
    expect(snapshot.activeCarts).toBe(1);
    expect(snapshot.jobsLocked).toBe(1);
    expect(snapshot.jobsReady).toBeGreaterThanOrEqual(1);

    // One query per tick for all 20: every read reached the watchers that were there all along, so reads
    // exceed the distinct snapshots they saw by at most the one in flight (one query per watcher would be
    // about 20 times as many).
    const readsBefore = api.app.dashboard.reads;
    const seenBefore = new Set(watchers.flatMap((w) => w.got.map((s) => s.at.getTime()))).size;
    await eventually(async () => watchers.every((w) => w.got.length >= 4), 30_000);
    const reads = api.app.dashboard.reads - readsBefore;
    const seen = new Set(watchers.flatMap((w) => w.got.map((s) => s.at.getTime()))).size - seenBefore;
    expect(reads).toBeGreaterThanOrEqual(1);
    expect(reads).toBeLessThanOrEqual(seen + 1);
    expect(watchers.flatMap((w) => w.errors)).toEqual([]);

    // Everyone leaves: no subscriber, no timer, no more reads.
    for (const w of watchers) w.stop();
    await eventually(async () => api.app.dashboard.subscriberCount === 0 && !api.app.dashboard.active, 20_000);
    const idleReads = api.app.dashboard.reads;
    await new Promise((r) => setTimeout(r, 1_500));
    expect(api.app.dashboard.reads).toBe(idleReads);
  });
});
