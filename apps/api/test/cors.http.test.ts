/**
 * CORS over real HTTP, request by request as a browser sends them: the preflight, then the actual request
 * (a batch of queries, a batched mutation, an SSE subscription, a report download), for an origin listed in
 * ALLOWED_ORIGINS and for others; errors a page must read (429, 503) expose Retry-After; WebSocket upgrades
 * are checked by Origin. apps/api/test/cors.browser.e2e.test.ts does the same from a real Chromium.
 */
import { createUsers, sql, startTestApi, type TestApi, type TestUser } from '@keelson/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

const APP = 'http://localhost:5173';
/** Same site as APP (cookies would flow), but not listed: only CORS stands in its way. */
const SIBLING = 'http://localhost:5174';
const UNLISTED = [SIBLING, 'https://evil.example', 'null'];

const batchInput = (...inputs: unknown[]) =>
  encodeURIComponent(JSON.stringify(Object.fromEntries(inputs.map((input, i) => [i, { json: input }]))));

/** The response headers whose name starts with `access-control-`. */
function corsHeaders(res: Response): Record<string, string> {
  return Object.fromEntries([...res.headers].filter(([name]) => name.startsWith('access-control-')));
}

const varyList = (res: Response) => (res.headers.get('vary') ?? '').split(',').map((v) => v.trim().toLowerCase());

/** What a page on `origin` may read of an actual (non-preflight) answer. */
function expectReadableBy(res: Response, origin: string) {
  expect(res.headers.get('access-control-allow-origin')).toBe(origin);
  expect(res.headers.get('access-control-allow-credentials')).toBe('true');
  const exposed = (res.headers.get('access-control-expose-headers') ?? '').split(',').map((h) => h.trim());
  expect(exposed).toEqual(expect.arrayContaining(['retry-after', 'x-request-id']));
  expect(varyList(res)).toContain('origin');
}

describe('CORS', () => {
  let api: TestApi;
  let user: TestUser;
  const cookie = () => `keelson_session=${user.token}`;

  beforeAll(async () => {
    api = await startTestApi({ config: { ALLOWED_ORIGINS: APP } });
    [user] = (await createUsers(api.db.url, 1, { prefix: 'cors' })) as [TestUser];
  });
  afterAll(() => api?.close());

  /** A browser's preflight: `request` is the method, then the headers, the actual request will send. */
  const preflight = (path: string, origin: string, request: [method: string, headers?: string]) =>
    fetch(`${api.baseUrl}${path}`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': request[0],
        ...(request[1] ? { 'access-control-request-headers': request[1] } : {}),
      },
    });

  describe('from an origin in ALLOWED_ORIGINS', () => {
    it('answers the preflight of a batched mutation, then the mutation itself with the cookie', async () => {
      const path = '/trpc/account.updateProfile?batch=1';
      const pre = await preflight(path, APP, ['POST', 'content-type,x-trpc-source']);
      expect(pre.status).toBe(204);
      expect(corsHeaders(pre)).toEqual({
        'access-control-allow-origin': APP,
        'access-control-allow-credentials': 'true',
        'access-control-allow-methods': 'GET, HEAD, POST',
        'access-control-allow-headers':
          'content-type, authorization, trpc-accept, x-trpc-source, last-event-id, x-request-id',
        'access-control-expose-headers': 'retry-after, x-request-id, content-disposition',
        'access-control-max-age': '7200',
      });
      expect(varyList(pre)).toContain('origin');

      const res = await fetch(`${api.baseUrl}${path}`, {
        method: 'POST',
        headers: { origin: APP, 'sec-fetch-site': 'same-site', 'content-type': 'application/json', cookie: cookie() },
        body: JSON.stringify({ 0: { json: { name: 'Cross Origin' } } }),
      });
      expect(res.status).toBe(200);
      expectReadableBy(res, APP);
      expect(await sql(api.db.url, 'select name from app_user where id = $1', [user.id])).toEqual([
        { name: 'Cross Origin' },
      ]);
    });

    it('answers a batch of queries (a simple GET, no preflight) readably, and a bearer one after its preflight', async () => {
      const url = `${api.baseUrl}/trpc/auth.me,catalog.categories?batch=1&input=${batchInput(undefined, undefined)}`;
      const res = await fetch(url, { headers: { origin: APP, cookie: cookie() } });
      expect(res.status).toBe(200);
      expectReadableBy(res, APP);
      // tRPC's own Vary survives beside Origin.
      expect(varyList(res)).toEqual(expect.arrayContaining(['trpc-accept', 'accept', 'origin']));
      const [me] = (await res.json()) as [{ result: { data: { json: { email: string } } } }];
      expect(me.result.data.json.email).toBe(user.email);

      const pre = await preflight('/trpc/auth.me?batch=1', APP, ['GET', 'authorization']);
      expect(pre.status).toBe(204);
      expect(pre.headers.get('access-control-allow-headers')).toContain('authorization');
      const bearer = await fetch(`${api.baseUrl}/trpc/auth.me?batch=1&input=${batchInput(undefined)}`, {
        headers: { origin: APP, authorization: `Bearer ${user.token}` },
      });
      expectReadableBy(bearer, APP);
    });

    it('streams an SSE subscription readably, after the preflight a resuming EventSource needs', async () => {
      const input = encodeURIComponent(JSON.stringify({ json: { lastEventId: '0' } }));
      const path = `/trpc/notifications.onNew?input=${input}`;
      const pre = await preflight(path, APP, ['GET', 'last-event-id']);
      expect(pre.status).toBe(204);
      const abort = new AbortController();
      const res = await fetch(`${api.baseUrl}${path}`, {
        headers: { origin: APP, cookie: cookie(), accept: 'text/event-stream', 'last-event-id': '0' },
        signal: abort.signal,
      });
      try {
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
        expectReadableBy(res, APP);
        const reader = res.body!.getReader();
        const first = new TextDecoder().decode((await reader.read()).value);
        expect(first).toContain('event: connected');
      } finally {
        abort.abort();
      }
    });

    it('lets the page read the errors it must act on: 429 with Retry-After', async () => {
      const email = `throttled.${Date.now()}@cors.test`;
      let last: Response | undefined;
      for (let i = 0; i < 6; i++) {
        last = await fetch(`${api.baseUrl}/trpc/auth.logIn?batch=1`, {
          method: 'POST',
          headers: { origin: APP, 'sec-fetch-site': 'same-site', 'content-type': 'application/json' },
          body: JSON.stringify({ 0: { json: { email, password: 'wrong password here' } } }),
        });
      }
      expect(last?.status).toBe(429);
      expect(Number(last?.headers.get('retry-after'))).toBeGreaterThan(0);
      expectReadableBy(last!, APP);
    });

    it('and 503 with Retry-After when the database pool gives no connection', async () => {
      await using starved = await startTestApi({
        db: api.db,
        config: {
          ALLOWED_ORIGINS: APP,
          DATABASE_POOL_MAX: '1',
          DATABASE_ACQUIRE_TIMEOUT_MS: '300',
          CATALOG_CACHE_MAX_ENTRIES: '0',
        },
      });
      const held = starved.orm.em.getConnection().execute('select pg_sleep(1.5)');
      await new Promise((r) => setTimeout(r, 100));
      const res = await fetch(`${starved.baseUrl}/trpc/catalog.list?input=${encodeURIComponent('{"json":{}}')}`, {
        headers: { origin: APP },
      });
      await held;
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expectReadableBy(res, APP);
    });

    it('covers plain routes too: a report download answers its 401 readably, after a bearer preflight', async () => {
      const path = `/reports/${crypto.randomUUID()}.csv`;
      const pre = await preflight(path, APP, ['GET', 'authorization']);
      expect(pre.status).toBe(204);
      const res = await fetch(`${api.baseUrl}${path}`, { headers: { origin: APP } });
      expect(res.status).toBe(401);
      expectReadableBy(res, APP);
      expect(res.headers.get('access-control-expose-headers')).toContain('content-disposition');
    });

    it('leaves an OPTIONS that is no preflight to httpMethods (204 with Allow), and missing files their 404', async () => {
      const options = await fetch(`${api.baseUrl}/trpc/auth.logIn`, { method: 'OPTIONS', headers: { origin: APP } });
      expect(options.status).toBe(204);
      expect(options.headers.get('allow')).toBe('POST, OPTIONS');
      expect(options.headers.get('access-control-allow-origin')).toBe(APP);
      expect((await fetch(`${api.baseUrl}/healthz`, { method: 'OPTIONS' })).headers.get('allow')).toBe(
        'GET, HEAD, OPTIONS',
      );
      // The web app's fallback answers GET on every path (with index.html or a 404): OPTIONS says so.
      expect((await fetch(`${api.baseUrl}/no/such/path`, { method: 'OPTIONS' })).headers.get('allow')).toBe(
        'GET, HEAD, OPTIONS',
      );
      expect((await fetch(`${api.baseUrl}/no/such/file.txt`, { headers: { origin: APP } })).status).toBe(404);
    });
  });

  describe('from any other origin', () => {
    it.each(UNLISTED)('refuses the preflight of %s with 403 and no Access-Control header', async (origin) => {
      for (const [path, method] of [
        ['/trpc/account.updateProfile?batch=1', 'POST'],
        ['/trpc/auth.me?batch=1', 'GET'],
        [`/reports/${crypto.randomUUID()}.csv`, 'GET'],
      ] as const) {
        const res = await preflight(path, origin, [method, 'content-type']);
        expect(res.status, path).toBe(403);
        expect(corsHeaders(res), path).toEqual({});
        expect(await res.json()).toMatchObject({ appCode: 'ORIGIN_NOT_ALLOWED' });
      }
      // Not even without an Origin: a preflight names one.
      const bare = await fetch(`${api.baseUrl}/trpc/auth.me`, {
        method: 'OPTIONS',
        headers: { 'access-control-request-method': 'GET' },
      });
      expect(bare.status).toBe(403);
    });

    it('answers what needs no preflight without any Access-Control header, so the page cannot read it', async () => {
      const res = await fetch(`${api.baseUrl}/trpc/auth.me?batch=1&input=${batchInput(undefined)}`, {
        headers: { origin: SIBLING, cookie: cookie() },
      });
      expect(res.status).toBe(200);
      expect(corsHeaders(res)).toEqual({});
      // A shared cache must not hand this answer to a listed origin, nor the listed one's to this origin.
      expect(varyList(res)).toContain('origin');
    });

    it('still refuses cookie-authenticated mutations from it (CSRF), preflight or not', async () => {
      const mutate = (contentType: string) =>
        fetch(`${api.baseUrl}/trpc/account.updateProfile?batch=1`, {
          method: 'POST',
          headers: { origin: SIBLING, 'sec-fetch-site': 'same-site', 'content-type': contentType, cookie: cookie() },
          body: JSON.stringify({ 0: { json: { name: 'Hijacked' } } }),
        });
      // What a form or a fetch without preflight can send: tRPC takes no text/plain.
      const simple = await mutate('text/plain');
      expect(simple.status).toBe(415);
      expect(corsHeaders(simple)).toEqual({});
      // JSON, as if its preflight had passed: the CSRF check.
      const json = await mutate('application/json');
      expect(json.status).toBe(403);
      expect(corsHeaders(json)).toEqual({});
      expect(await json.json()).toMatchObject([{ error: { json: { data: { appCode: 'CSRF_REJECTED' } } } }]);
      expect(await sql(api.db.url, 'select name from app_user where id = $1', [user.id])).not.toEqual([
        { name: 'Hijacked' },
      ]);
    });
  });

  it('sends no Access-Control header to clients that name no Origin (servers, curl), but still Vary: Origin', async () => {
    const res = await fetch(`${api.baseUrl}/trpc/catalog.categories`);
    expect(res.status).toBe(200);
    expect(corsHeaders(res)).toEqual({});
    // A public, cacheable answer: the Vary keeps CDNs from serving it across origins.
    expect(res.headers.get('cache-control')).toMatch(/^public/);
    expect(varyList(res)).toContain('origin');
    // Plain routes too, for an unlisted origin as for none: the pages, the probes, Fastify's own 404.
    for (const path of ['/', '/healthz', '/sign-in', '/no-such-path']) {
      for (const headers of [{}, { origin: 'http://elsewhere.test' }]) {
        const plain = await fetch(`${api.baseUrl}${path}`, { headers });
        expect(varyList(plain), path).toContain('origin');
        expect(
          varyList(plain).filter((v) => v === 'origin'),
          path,
        ).toHaveLength(1);
      }
    }
  });

  describe('WebSocket upgrades', () => {
    const upgrade = (headers: Record<string, string>) =>
      new Promise<{ outcome: string; body?: string; allowOrigin?: string }>((resolve) => {
        const socket = new WebSocket(`${api.baseUrl.replace('http', 'ws')}/trpc`, { headers });
        socket.once('open', () => {
          socket.close();
          resolve({ outcome: 'open' });
        });
        socket.once('unexpected-response', (_req, res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c));
          res.on('end', () =>
            resolve({
              outcome: String(res.statusCode),
              body,
              allowOrigin: res.headers['access-control-allow-origin'] as string | undefined,
            }),
          );
        });
        socket.once('error', () => resolve({ outcome: 'error' }));
      });

    it('accepts the listed origin (with its cookie) and clients without an Origin', async () => {
      expect(await upgrade({ origin: APP, cookie: cookie() })).toEqual({ outcome: 'open' });
      expect(await upgrade({})).toEqual({ outcome: 'open' });
    });

    it.each(UNLISTED)('refuses %s with 403 ORIGIN_NOT_ALLOWED', async (origin) => {
      const refused = await upgrade({ origin, cookie: cookie() });
      expect(refused.outcome).toBe('403');
      expect(JSON.parse(refused.body ?? '{}')).toMatchObject({ appCode: 'ORIGIN_NOT_ALLOWED' });
      expect(refused.allowOrigin).toBeUndefined();
    });
  });
});
