import { buildApp } from '@keelson/api';
import { TRPCClientError } from '@keelson/client';
import { createOrm, seed } from '@keelson/db';
import { rawCall, sql, startTestApi, type TestApi, testConfig, testDatabase, testLogger } from '@keelson/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

describe('API over real HTTP and WebSocket, through @keelson/client', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi({
      config: { TRPC_MAX_BATCH_SIZE: '5', BODY_LIMIT_BYTES: '2048', WS_MAX_PAYLOAD_BYTES: '2048' },
    });
    await seed(api.orm.em.fork(), {});
  });
  afterAll(() => api.close());

  it('answers queries over batched HTTP in one request', async () => {
    const [page, product] = await Promise.all([
      api.client.catalog.list.query({ limit: 3 }),
      api.client.catalog.get.query({ slug: 'oak-mug' }),
    ]);
    expect(page.items).toHaveLength(3);
    expect(page.items[0]!.createdAt).toBeInstanceOf(Date); // superjson round-trips dates
    expect(product.name).toBe('Oak Mug');
  });

  it('answers queries and mutations over WebSocket', async () => {
    const ws = api.newClient({ transport: 'ws' });
    const product = await ws.catalog.get.query({ slug: 'glass-notebook' });
    expect(product.name).toBe('Glass Notebook');
    await expect(ws.catalog.recordView.mutate({ id: product.id })).resolves.toMatchObject({
      jobId: expect.any(String),
    });
    await expect(ws.catalog.get.query({ slug: 'missing' })).rejects.toMatchObject({ data: { code: 'NOT_FOUND' } });
  });

  it('reports bad input as BAD_REQUEST with field issues and the request id', async () => {
    const err = await api.client.catalog.list.query({ limit: 1000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TRPCClientError);
    const { data, message } = err as TRPCClientError<never> & { data: Record<string, unknown> };
    expect(message).toBe('Invalid input');
    expect(data).toMatchObject({
      code: 'BAD_REQUEST',
      httpStatus: 400,
      appCode: 'VALIDATION_FAILED',
      requestId: expect.any(String),
      issues: [expect.objectContaining({ path: ['limit'] })],
    });
  });

  it('reports domain errors with their catalogue code', async () => {
    const err = await api.client.catalog.get.query({ slug: 'no-such-product' }).catch((e: unknown) => e);
    expect((err as TRPCClientError<never>).data).toMatchObject({
      code: 'NOT_FOUND',
      httpStatus: 404,
      appCode: 'PRODUCT_NOT_FOUND',
      details: { slug: 'no-such-product' },
    });
  });

  it('never shows a client the internals of a failure: generic message plus request id', async () => {
    // Break the database under the running API: every catalogue query now fails inside PostgreSQL.
    await sql(api.db.url, 'alter table product rename to product_gone');
    try {
      const res = await fetch(`${api.baseUrl}/trpc/catalog.list?input=${encodeURIComponent('{"json":{}}')}`);
      const body = await res.text();
      expect(res.status).toBe(500);
      const requestId = res.headers.get('x-request-id');
      expect(requestId).toBeTruthy();
      expect(body).toContain(`Internal server error (request id ${requestId})`);
      for (const leak of ['product', 'relation', 'select', 'stack', '.ts', 'node_modules'])
        expect(body).not.toContain(leak);

      // A product no test read yet: a cached one would rightly be served without the database.
      const err = await api.client.catalog.get.query({ slug: 'steel-plant-pot' }).catch((e: unknown) => e);
      expect((err as Error).message).toMatch(/^Internal server error \(request id [\w-]+\)$/);
    } finally {
      await sql(api.db.url, 'alter table product_gone rename to product');
    }
  });

  it('enforces the server-side batch limit', async () => {
    const calls = Array.from({ length: 6 }, () => 'catalog.list').join(',');
    const input = encodeURIComponent(
      JSON.stringify(Object.fromEntries([0, 1, 2, 3, 4, 5].map((i) => [i, { json: {} }]))),
    );
    const res = await fetch(`${api.baseUrl}/trpc/${calls}?batch=1&input=${input}`);
    expect(res.status).toBe(400);
    const ok = await fetch(
      `${api.baseUrl}/trpc/catalog.list,catalog.list?batch=1&input=${encodeURIComponent('{"0":{"json":{}},"1":{"json":{}}}')}`,
    );
    expect(ok.status).toBe(200);
  });

  it('refuses bodies over BODY_LIMIT_BYTES without running the procedure', async () => {
    const before = await sql(api.db.url, 'select count(*)::int as n from analytics_event');
    const res = await fetch(`${api.baseUrl}/trpc/catalog.recordView`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ json: { id: 'x'.repeat(4096) } }),
    });
    expect(res.status).toBe(413);
    expect(await sql(api.db.url, 'select count(*)::int as n from analytics_event')).toEqual(before);
  });

  it('closes a WebSocket that sends a message over WS_MAX_PAYLOAD_BYTES, and keeps serving', async () => {
    const socket = new WebSocket(`${api.baseUrl.replace('http', 'ws')}/trpc`);
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    socket.send('x'.repeat(4096));
    expect(await closed).toBe(1009); // "message too big"
    await expect(api.client.catalog.list.query({ limit: 1 })).resolves.toBeDefined();
  });

  it('answers a malformed WebSocket frame with an error, not a crash', async () => {
    const socket = new WebSocket(`${api.baseUrl.replace('http', 'ws')}/trpc`);
    await new Promise((resolve) => socket.once('open', resolve));
    const reply = new Promise<string>((resolve) => socket.once('message', (data) => resolve(String(data))));
    socket.send('{not json');
    expect(JSON.parse(await reply)).toMatchObject({ error: { json: { data: { code: 'PARSE_ERROR' } } } });
    socket.close();
    await expect(api.client.catalog.list.query({ limit: 1 })).resolves.toBeDefined();
  });

  it('echoes a well-formed x-request-id and replaces a malicious one', async () => {
    const echoed = await fetch(`${api.baseUrl}/healthz`, { headers: { 'x-request-id': 'lb-1234' } });
    expect(echoed.headers.get('x-request-id')).toBe('lb-1234');
    const replaced = await fetch(`${api.baseUrl}/healthz`, { headers: { 'x-request-id': 'forged "log" line' } });
    expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('serves liveness and readiness', async () => {
    expect(await (await fetch(`${api.baseUrl}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${api.baseUrl}/readyz`);
    expect(ready.status).toBe(200);
  });

  it('answers unknown routes with 404 and no internals', async () => {
    const res = await fetch(`${api.baseUrl}/nope.php`);
    expect(res.status).toBe(404);
  });
});

describe('error handler', () => {
  it('keeps internals out of 500s on every route, plugins included', async () => {
    await using db = await testDatabase();
    const config = testConfig({ DATABASE_URL: db.url });
    const orm = await createOrm({ url: db.url, poolMax: 2 });
    const app = await buildApp({ config, orm, logger: testLogger() });
    app.addHook('onRequest', async (req) => {
      if (req.headers['x-boom']) throw new Error('SECRET internal detail');
    });
    try {
      for (const url of ['/trpc/catalog.list', '/healthz', '/auth/oidc/start']) {
        const res = await app.inject({ method: 'GET', url, headers: { 'x-boom': '1' } });
        expect(res.statusCode, url).toBe(500);
        expect(res.body, url).not.toContain('SECRET');
        expect(res.json(), url).toMatchObject({ error: expect.stringMatching(/^Internal server error \(request id /) });
      }
    } finally {
      await app.close();
      await orm.close(true);
    }
  });
});

describe('readiness', () => {
  it('is 503 until every migration is applied', async () => {
    // An empty database: reachable, but nothing migrated.
    await using db = await testDatabase();
    await sql(
      db.url,
      'drop schema graphile_worker cascade; drop table analytics_event, product, app_user, mikro_orm_migrations cascade',
    );
    await using api = await startTestApi({ db });
    const res = await fetch(`${api.baseUrl}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ status: 'migrations pending', workerSchema: false });
    expect((await fetch(`${api.baseUrl}/healthz`)).status).toBe(200);
  });

  it('answers a pool that gives no connection back with 503s, not hung requests, and is ready again after', async () => {
    await using api = await startTestApi({
      config: { DATABASE_POOL_MAX: '1', DATABASE_ACQUIRE_TIMEOUT_MS: '300', CATALOG_CACHE_MAX_ENTRIES: '0' },
    });
    expect((await fetch(`${api.baseUrl}/readyz`)).status).toBe(200);
    // The only connection, held by a slow statement: as if it leaked.
    const held = api.orm.em.getConnection().execute('select pg_sleep(2)');
    await new Promise((r) => setTimeout(r, 100));
    const started = performance.now();
    const call = await rawCall(api.baseUrl, { path: 'catalog.list', type: 'query', input: {} });
    expect(performance.now() - started).toBeLessThan(1_500);
    expect(call.status).toBe(503);
    expect(call.headers.get('retry-after')).toBe('1');
    expect(call.error?.data).toMatchObject({ code: 'SERVICE_UNAVAILABLE', appCode: 'DATABASE_UNAVAILABLE' });
    expect(call.error?.message).not.toMatch(/timeout|pool|connect/i);
    // Someone waiting and nothing given back for longer than the acquire timeout: stuck, answered at once.
    const waiting = api.orm.em
      .getConnection()
      .execute('select 1')
      .catch(() => 'timed out');
    await new Promise((r) => setTimeout(r, 20));
    const t0 = performance.now();
    const ready = await fetch(`${api.baseUrl}/readyz`);
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'database pool stuck', waiting: 1 });
    expect((await fetch(`${api.baseUrl}/healthz`)).status).toBe(200);
    await held;
    expect(await waiting).toBe('timed out');
    expect((await fetch(`${api.baseUrl}/readyz`)).status).toBe(200);
  });
});
