/**
 * `analytics.track` over HTTP (anonymous and signed in, validation, unknown products, the per-IP rate
 * limit with Retry-After), the worker's roll-up, and `analytics.summary` reading it.
 */
import {
  createProduct,
  createUsers,
  eventually,
  rawCall,
  sql,
  startTestApi,
  startTestWorker,
  type TestApi,
  type TestUser,
} from '@keelson/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

describe('analytics', () => {
  let api: TestApi;
  let worker: Awaited<ReturnType<typeof startTestWorker>>;
  let admin: TestUser;
  let customer: TestUser;
  let product: { id: string; name: string };
  const recent = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000);

  beforeAll(async () => {
    api = await startTestApi();
    worker = await startTestWorker({ db: api.db });
    [admin] = (await createUsers(api.db.url, 1, { role: 'admin', prefix: 'aadmin' })) as [TestUser];
    [customer] = (await createUsers(api.db.url, 1, { prefix: 'acust' })) as [TestUser];
    product = await createProduct(api.db.url, { priceCents: 500, stock: 0, name: 'Tracked mug' });
  });
  afterAll(async () => {
    await worker?.stop();
    await api?.close();
  });

  it('records anonymous and signed-in events in one insert, with the user, and drops unknown products', async () => {
    const anonymous = await api.client.analytics.track.mutate({
      events: [
        { name: 'product_viewed', productId: product.id, props: { source: 'search', position: 3 } },
        { name: 'search', props: { q: 'mug' } },
        { name: 'product_viewed', productId: crypto.randomUUID() },
      ],
    });
    expect(anonymous).toEqual({ accepted: 2, dropped: 1 });
    const signedIn = api.newClient({ token: () => customer.token });
    expect(
      await signedIn.analytics.track.mutate({
        events: [{ name: 'add_to_cart', productId: product.id, at: recent(10) }],
      }),
    ).toEqual({ accepted: 1, dropped: 0 });
    const rows = await sql<{ name: string; user_id: string | null; props: unknown }>(
      api.db.url,
      'select name, user_id, props from analytics_event order by id',
    );
    expect(rows).toEqual([
      { name: 'product_viewed', user_id: null, props: { source: 'search', position: 3 } },
      { name: 'search', user_id: null, props: { q: 'mug' } },
      { name: 'add_to_cart', user_id: customer.id, props: null },
    ]);
    // Tracked views count towards the product's viewCount, as catalog.recordView's do (read from the
    // table: the API's in-process cache may serve the old count until its TTL).
    await eventually(
      async () =>
        (await sql<{ view_count: number }>(api.db.url, 'select view_count from product where id = $1', [product.id]))[0]
          ?.view_count === 1,
    );
  });

  it.each([
    ['an unknown name', { name: 'purchase' }],
    ['a time in the future', { name: 'search', at: new Date(Date.now() + 60 * 60_000) }],
    ['a time older than 7 days', { name: 'search', at: new Date(Date.now() - 8 * 86_400_000) }],
    ['nested props', { name: 'search', props: { nested: { a: 1 } } }],
    [
      'too many props',
      { name: 'search', props: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, i])) },
    ],
    [
      'props over 1 KiB',
      {
        name: 'search',
        props: { a: 'x'.repeat(200), b: 'x'.repeat(200), c: 'x'.repeat(200), d: 'x'.repeat(200), e: 'x'.repeat(200) },
      },
    ],
    ['a NUL in a prop', { name: 'search', props: { q: 'a\u0000b' } }],
  ])('refuses %s with BAD_REQUEST', async (_label, event) => {
    await expect(api.client.analytics.track.mutate({ events: [event as never] })).rejects.toMatchObject({
      data: { code: 'BAD_REQUEST', appCode: 'VALIDATION_FAILED' },
    });
  });

  it('takes 1 to 100 events per call', async () => {
    for (const events of [[], Array.from({ length: 101 }, () => ({ name: 'search' as const }))]) {
      await expect(api.client.analytics.track.mutate({ events })).rejects.toMatchObject({
        data: { code: 'BAD_REQUEST' },
      });
    }
  });

  it('rolls up in the worker; the summary reads the roll-ups', async () => {
    const events = [
      ...Array.from({ length: 8 }, () => ({ name: 'product_viewed' as const, productId: product.id, at: recent(90) })),
      ...Array.from({ length: 4 }, () => ({ name: 'add_to_cart' as const, productId: product.id, at: recent(90) })),
      { name: 'checkout_started' as const, at: recent(90) },
      { name: 'checkout_completed' as const, at: recent(90) },
    ];
    await api.client.analytics.track.mutate({ events });
    const from = new Date(Date.now() - 3 * 60 * 60_000);
    const to = new Date(Date.now() + 60 * 60_000);
    // A manual re-roll of the range (the cron would do the same at five past the hour).
    await sql(
      api.db.url,
      `select graphile_worker.add_job('analytics__rollup', json_build_object('from', $1::text, 'to', $2::text))`,
      [from.toISOString(), to.toISOString()],
    );
    const adminClient = api.newClient({ token: () => admin.token });
    const summary = await eventually(async () => {
      const s = await adminClient.analytics.summary.query({ from: new Date(from.getTime() - 3_600_000), to });
      return s.funnel.steps[0]!.count > 0 ? s : null;
    });
    const raw = await sql<{ name: string; count: number }>(
      api.db.url,
      'select name, count(*)::int as count from analytics_event group by name',
    );
    expect(summary.totals.filter((x) => x.count > 0)).toEqual(
      summary.totals.filter((x) => raw.some((r) => r.name === x.name)),
    );
    for (const r of raw) expect(summary.totals.find((x) => x.name === r.name)?.count).toBe(r.count);
    expect(summary.topProducts).toEqual([{ productId: product.id, name: 'Tracked mug', views: 9 }]);
    expect(summary.funnel.steps.map((s) => s.count)).toEqual([9, 5, 1, 1]);
    expect(summary.funnel.overallConversion).toBeCloseTo(1 / 9);
  });

  it('limits each IP to 600 events a minute: TOO_MANY_REQUESTS with Retry-After', async () => {
    await sql(api.db.url, 'delete from auth_throttle');
    const batch = { events: Array.from({ length: 100 }, () => ({ name: 'search' })) };
    const call = () => rawCall(api.baseUrl, { path: 'analytics.track', type: 'mutation', input: batch });
    for (let i = 0; i < 6; i++) expect((await call()).status).toBe(200);
    const refused = await call();
    expect(refused.status).toBe(429);
    expect(refused.error?.data).toMatchObject({ code: 'TOO_MANY_REQUESTS', appCode: 'RATE_LIMITED' });
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // Signed-in callers share their IP's budget.
    await expect(
      api.newClient({ token: () => customer.token }).analytics.track.mutate({ events: [{ name: 'search' }] }),
    ).rejects.toMatchObject({ data: { code: 'TOO_MANY_REQUESTS' } });
    const [{ count }] = (await sql<{ count: number }>(
      api.db.url,
      `select count(*)::int as count from analytics_event where name = 'search' and props is null`,
    )) as [{ count: number }];
    expect(count).toBe(600);
  });

  it('refuses a batch that would overshoot the limit, uncounted, while a smaller one still fits', async () => {
    await sql(api.db.url, 'delete from auth_throttle');
    await sql(api.db.url, `delete from analytics_event where name = 'search'`);
    const track = (n: number) =>
      rawCall(api.baseUrl, {
        path: 'analytics.track',
        type: 'mutation',
        input: { events: Array.from({ length: n }, () => ({ name: 'search' })) },
      });
    for (const n of [100, 100, 100, 100, 100, 99]) expect((await track(n)).status).toBe(200);
    expect((await track(100)).status).toBe(429);
    expect((await track(1)).status).toBe(200);
    expect((await track(1)).status).toBe(429);
    const [{ count }] = (await sql<{ count: number }>(
      api.db.url,
      `select count(*)::int as count from analytics_event where name = 'search'`,
    )) as [{ count: number }];
    expect(count).toBe(600);
  });
});
