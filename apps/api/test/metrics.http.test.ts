/**
 * The API's `/metrics`, scraped from its metrics listener while traffic goes through the real server:
 * per-call procedure observations of a batch, bounded labels, the business counters, and an exposition
 * promtool accepts.
 */
import { closeClient } from '@keelson/client';
import {
  createProduct,
  createUsers,
  eventually,
  needsTool,
  promtoolCheckMetrics,
  sampleValue,
  scrapeMetrics,
  startTestApi,
  type TestApi,
} from '@keelson/testing';
import { appRouter, procedureList } from '@keelson/trpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const PROCEDURE = 'keelson_trpc_procedure_duration_seconds_count';
const HTTP = 'keelson_http_request_duration_seconds_count';

describe('API metrics', () => {
  let api: TestApi;

  beforeAll(async () => {
    api = await startTestApi();
  });
  afterAll(() => api?.close());

  it('observes each call of a batch apart, with its own code, and the batch as one HTTP request', async () => {
    const product = await createProduct(api.db.url, { priceCents: 500, stock: 3 });
    const before = (await scrapeMetrics(api.metricsUrl)).samples;
    const [found, missing, categories] = await Promise.allSettled([
      api.client.catalog.get.query({ slug: product.slug }),
      api.client.catalog.get.query({ slug: 'no-such-product' }),
      api.client.catalog.categories.query(),
    ]);
    expect([found.status, missing.status, categories.status]).toEqual(['fulfilled', 'rejected', 'fulfilled']);

    const after = (await scrapeMetrics(api.metricsUrl)).samples;
    const delta = (name: string, labels: Record<string, string>) =>
      sampleValue(after, name, labels) - sampleValue(before, name, labels);
    expect(delta(PROCEDURE, { procedure: 'catalog.get', type: 'query', code: 'ok' })).toBe(1);
    expect(delta(PROCEDURE, { procedure: 'catalog.get', type: 'query', code: 'NOT_FOUND' })).toBe(1);
    expect(delta(PROCEDURE, { procedure: 'catalog.categories', type: 'query', code: 'ok' })).toBe(1);
    const procedureCalls = (samples: typeof after) =>
      samples.filter((s) => s.name === PROCEDURE).reduce((sum, s) => sum + s.value, 0);
    expect(procedureCalls(after) - procedureCalls(before)).toBe(3);
    // One batched GET; tRPC answers a batch with a failed call 207 Multi-Status.
    const batches = after
      .filter((s) => s.name === HTTP && s.labels.route === '/trpc/:path')
      .map((s) => s.value - sampleValue(before, HTTP, s.labels))
      .reduce((a, b) => a + b, 0);
    expect(batches).toBe(1);
  });

  it('labels by route pattern, never by raw path; probes and scrapes are not counted', async () => {
    expect((await fetch(`${api.baseUrl}/trpc/does.not.exist`)).status).toBe(404);
    expect((await fetch(`${api.baseUrl}/random/xyz.txt`)).status).toBe(404);
    // A page of the web app: one series for all its paths.
    expect((await fetch(`${api.baseUrl}/products/xyz-123`)).status).toBe(200);
    expect((await fetch(`${api.baseUrl}/healthz`)).status).toBe(200);
    const { samples } = await scrapeMetrics(api.metricsUrl);
    const http = samples.filter((s) => s.name === HTTP);
    expect(sampleValue(samples, HTTP, { method: 'GET', route: '/trpc/:path', status_code: '404' })).toBe(1);
    expect(sampleValue(samples, HTTP, { method: 'GET', route: 'unmatched', status_code: '404' })).toBe(1);
    expect(sampleValue(samples, HTTP, { method: 'GET', route: '/*', status_code: '200' })).toBe(1);
    const routes = new Set(http.map((s) => s.labels.route));
    expect([...routes].every((r) => r === 'unmatched' || (r?.startsWith('/') && !/xyz|does\.not|\d/.test(r)))).toBe(
      true,
    );
    expect(routes.has('/healthz') || routes.has('/metrics')).toBe(false);
    // Exactly the router's procedures, each from start-up: a made-up name never reaches a procedure
    // middleware, so it makes no series.
    const procedures = new Set(samples.filter((s) => s.name === PROCEDURE).map((s) => s.labels.procedure));
    expect([...procedures].sort()).toEqual(procedureList(appRouter).map((p) => p.path));
    expect(procedures.has('does.not.exist')).toBe(false);
  });

  it('counts placed orders (not replays) and refused log-ins', async () => {
    const [user] = await createUsers(api.db.url, 1);
    const client = api.newClient({ token: () => user!.token });
    const product = await createProduct(api.db.url, { priceCents: 700, stock: 5 });
    await client.cart.addItem.mutate({ productId: product.id, quantity: 1 });
    const key = crypto.randomUUID();
    await client.orders.checkout.mutate({ idempotencyKey: key, paymentToken: 'tok_visa' });
    await client.orders.checkout.mutate({ idempotencyKey: key, paymentToken: 'tok_visa' });
    await expect(api.client.auth.logIn.mutate({ email: user!.email, password: 'not the password' })).rejects.toThrow();

    const { samples } = await scrapeMetrics(api.metricsUrl);
    expect(sampleValue(samples, 'keelson_orders_placed_total')).toBe(1);
    expect(sampleValue(samples, 'keelson_login_failures_total')).toBe(1);
    expect(sampleValue(samples, PROCEDURE, { procedure: 'auth.logIn', code: 'UNAUTHORIZED' })).toBe(1);
  });

  it('reports live subscriptions and connections, and the events fanned out with their delay', async () => {
    const product = await createProduct(api.db.url, { priceCents: 700, stock: 4 });
    const [admin] = await createUsers(api.db.url, 1, { role: 'admin', prefix: 'metricsrealtime' });
    const gauge = async (name: string, labels: Record<string, string> = {}) =>
      sampleValue((await scrapeMetrics(api.metricsUrl)).samples, name, labels);
    expect(await gauge('keelson_realtime_subscriptions', { kind: 'events' })).toBe(0);
    const before = (await scrapeMetrics(api.metricsUrl)).samples;

    const watcher = api.newClient({ token: () => admin!.token });
    const stock: number[] = [];
    const subs = [
      watcher.catalog.onStockChange.subscribe(
        { productIds: [product.id] },
        { onData: ({ data }) => stock.push(data.stock) },
      ),
      watcher.dashboard.live.subscribe(undefined, { onData: () => {} }),
    ];
    try {
      await eventually(async () => (await gauge('keelson_realtime_subscriptions', { kind: 'dashboard' })) === 1);
      expect(await gauge('keelson_realtime_subscriptions', { kind: 'events' })).toBe(1);
      // One WebSocket, signed in: one place under the per-user connection limit.
      expect(await gauge('keelson_realtime_connections')).toBe(1);
      expect(await gauge('keelson_realtime_listener_up')).toBe(1);

      await watcher.catalog.restock.mutate({ productId: product.id, delta: 2 });
      await eventually(async () => stock.length === 1, 10_000);
      const after = (await scrapeMetrics(api.metricsUrl)).samples;
      const delta = (name: string, labels: Record<string, string> = {}) =>
        sampleValue(after, name, labels) - sampleValue(before, name, labels);
      expect(delta('keelson_realtime_events_total', { topic: 'stock' })).toBe(1);
      expect(delta('keelson_realtime_event_delay_seconds_count')).toBe(1);
      // Seconds, not milliseconds: a local commit-to-read takes far below a second, even on a busy machine.
      expect(delta('keelson_realtime_event_delay_seconds_sum')).toBeLessThan(5);
    } finally {
      for (const sub of subs) sub.unsubscribe();
      await closeClient(watcher);
    }
    await eventually(
      async () =>
        (await gauge('keelson_realtime_subscriptions', { kind: 'events' })) === 0 &&
        (await gauge('keelson_realtime_subscriptions', { kind: 'dashboard' })) === 0 &&
        (await gauge('keelson_realtime_connections')) === 0,
    );
  });

  it('reports its database pool by state', async () => {
    const { samples } = await scrapeMetrics(api.metricsUrl);
    const pool = samples.filter((s) => s.name === 'keelson_db_pool_connections');
    expect(pool.map((s) => s.labels.state).sort()).toEqual(['idle', 'in_use', 'waiting']);
    expect(pool.every((s) => Number.isInteger(s.value) && s.value >= 0)).toBe(true);
  });

  it('serves an exposition promtool finds nothing wrong with', needsTool('promtool'), async () => {
    const { text } = await scrapeMetrics(api.metricsUrl);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m);
    expect(promtoolCheckMetrics(text)).toBe('');
  });

  it('serves OpenMetrics to a scraper that asks', async () => {
    const res = await fetch(`${api.metricsUrl}/metrics`, {
      headers: { accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5' },
    });
    expect(res.headers.get('content-type')).toMatch(/^application\/openmetrics-text; version=1.0.0/);
    const open = await res.text();
    expect(open.endsWith('# EOF\n')).toBe(true);
    expect(open).toMatch(/^# TYPE keelson_orders_placed counter$/m);
    // And the Prometheus format still names counters with their _total afterwards.
    expect((await scrapeMetrics(api.metricsUrl)).text).toMatch(/^# TYPE keelson_orders_placed_total counter$/m);
  });
});
