/**
 * Security headers (plugins/securityHeaders.ts) on every kind of response of the real server: tRPC
 * answers and errors, Fastify's own errors and 404s, probes, report downloads, OIDC redirects, a refused
 * WebSocket upgrade and an SSE stream; and WebSockets still upgrade. HSTS and `wss:` only over HTTPS.
 */
import { closeClient } from '@keelson/client';
import {
  createProduct,
  freePort,
  startOidcProvider,
  startTestApi,
  type TestApi,
  type TestOidcProvider,
} from '@keelson/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';

/** The Content-Security-Policy header as directive → sources. */
function parseCsp(header: string | null): Record<string, string[]> {
  const directives: Record<string, string[]> = {};
  for (const part of (header ?? '').split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (name) directives[name] = sources;
  }
  return directives;
}

/** What every response must carry, whatever answered it. */
function expectHardened(headers: Headers, what: string) {
  expect(headers.get('x-content-type-options'), what).toBe('nosniff');
  expect(headers.get('x-frame-options'), what).toBe('DENY');
  expect(headers.get('referrer-policy'), what).toBe('strict-origin-when-cross-origin');
  expect(headers.get('cross-origin-opener-policy'), what).toBe('same-origin');
  expect(headers.get('x-powered-by'), what).toBeNull();
  const csp = parseCsp(headers.get('content-security-policy'));
  expect(csp['default-src'], what).toEqual(["'self'"]);
  expect(csp['frame-ancestors'], what).toEqual(["'none'"]);
}

const toHeaders = (raw: Record<string, string | string[] | undefined>) =>
  new Headers(Object.entries(raw).flatMap(([k, v]) => (v === undefined ? [] : [[k, String(v)] as [string, string]])));

describe('security headers over plain HTTP', () => {
  let api: TestApi;
  let idp: TestOidcProvider;
  let publicUrl: string;

  beforeAll(async () => {
    const [apiPort, idpPort] = [await freePort(), await freePort()];
    publicUrl = `http://127.0.0.1:${apiPort}`;
    idp = await startOidcProvider({ port: idpPort, redirectUri: `${publicUrl}/auth/oidc/callback`, accounts: {} });
    api = await startTestApi({
      config: {
        PORT: String(apiPort),
        PUBLIC_URL: publicUrl,
        BODY_LIMIT_BYTES: '2048',
        OIDC_ISSUER: idp.issuer,
        OIDC_CLIENT_ID: idp.clientId,
        OIDC_CLIENT_SECRET: idp.clientSecret,
        OIDC_ALLOW_HTTP: 'true',
      },
    });
  });
  afterAll(async () => {
    await api?.close();
    await idp?.close();
  });

  it('sends a CSP ready for the web app on its own origin', async () => {
    const res = await fetch(`${api.baseUrl}/healthz`);
    expect(parseCsp(res.headers.get('content-security-policy'))).toEqual({
      'default-src': ["'self'"],
      'script-src': ["'self'"],
      'script-src-attr': ["'none'"],
      'style-src': ["'self'"],
      'img-src': ["'self'", 'data:', 'https:'],
      'font-src': ["'self'", 'data:'],
      'connect-src': ["'self'", `ws://${new URL(publicUrl).host}`],
      'object-src': ["'none'"],
      'base-uri': ["'self'"],
      'form-action': ["'self'"],
      'frame-ancestors': ["'none'"],
    });
    // Plain HTTP: no HSTS (browsers ignore it there), nothing to upgrade.
    expect(res.headers.get('strict-transport-security')).toBeNull();
  });

  it('on tRPC answers, tRPC errors, Fastify errors, 404s and probes', async () => {
    const input = encodeURIComponent(JSON.stringify({ json: { slug: 'no-such-product' } }));
    const cases: [string, Promise<Response>, number][] = [
      ['tRPC query', fetch(`${api.baseUrl}/trpc/catalog.categories`), 200],
      ['tRPC NOT_FOUND', fetch(`${api.baseUrl}/trpc/catalog.get?input=${input}`), 404],
      ['unknown procedure', fetch(`${api.baseUrl}/trpc/no.such`), 404],
      ['unknown path', fetch(`${api.baseUrl}/nowhere.txt`), 404],
      ['web app page', fetch(`${api.baseUrl}/nowhere`), 200],
      ['unknown method', fetch(`${api.baseUrl}/healthz`, { method: 'PATCH' }), 405],
      [
        'body too large (error handler)',
        fetch(`${api.baseUrl}/trpc/auth.signUp`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ json: { name: 'x'.repeat(4096) } }),
        }),
        413,
      ],
      ['healthz', fetch(`${api.baseUrl}/healthz`), 200],
      ['readyz', fetch(`${api.baseUrl}/readyz`), 200],
      ['report without a session', fetch(`${api.baseUrl}/reports/${crypto.randomUUID()}.csv`), 401],
    ];
    for (const [what, pending, status] of cases) {
      const res = await pending;
      expect(res.status, what).toBe(status);
      expectHardened(res.headers, what);
    }
  });

  it('on OIDC redirects, which still go where they went', async () => {
    const start = await fetch(`${api.baseUrl}/auth/oidc/start?returnTo=/account`, { redirect: 'manual' });
    expect(start.status).toBe(302);
    expect(new URL(start.headers.get('location') ?? '').origin).toBe(new URL(idp.issuer).origin);
    expect(start.headers.getSetCookie().join()).toMatch(/keelson_oidc=/);
    expectHardened(start.headers, 'oidc start');

    const callback = await fetch(`${api.baseUrl}/auth/oidc/callback?code=x&state=y`, { redirect: 'manual' });
    expect(callback.status).toBe(302);
    expect(callback.headers.get('location')).toBe(`${publicUrl}/sign-in?error=OIDC_REJECTED`);
    expectHardened(callback.headers, 'oidc callback');
  });

  it('on an SSE subscription stream, which still streams', async () => {
    const product = await createProduct(api.db.url, { priceCents: 100, stock: 1 });
    const input = encodeURIComponent(JSON.stringify({ json: { productIds: [product.id] } }));
    const abort = new AbortController();
    const res = await fetch(`${api.baseUrl}/trpc/catalog.onStockChange?input=${input}`, {
      headers: { accept: 'text/event-stream' },
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expectHardened(res.headers, 'sse');
    const reader = res.body?.getReader();
    const first = await reader?.read();
    expect(new TextDecoder().decode(first?.value)).toMatch(/connected/);
    abort.abort();
  });

  it('on a refused WebSocket upgrade; an allowed one still upgrades', async () => {
    const refused = await new Promise<Headers>((resolve, reject) => {
      const ws = new WebSocket(`${api.baseUrl.replace(/^http/, 'ws')}/trpc`, {
        headers: { origin: 'https://evil.example' },
      });
      ws.on('unexpected-response', (_req, res) => {
        expect(res.statusCode).toBe(403);
        resolve(toHeaders(res.headers));
        ws.terminate();
      });
      ws.on('open', () => reject(new Error('upgrade from a foreign origin was accepted')));
      ws.on('error', () => {});
    });
    expectHardened(refused, 'refused upgrade');

    const client = api.newClient({ transport: 'ws' });
    await expect(client.catalog.categories.query()).resolves.toBeInstanceOf(Array);
    await closeClient(client);
  });
});

describe('security headers over HTTPS', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi({ config: { PUBLIC_URL: 'https://shop.example' } });
  });
  afterAll(() => api?.close());

  it('adds HSTS, wss: for subscriptions and upgrade-insecure-requests', async () => {
    const res = await fetch(`${api.baseUrl}/nowhere.txt`);
    expect(res.status).toBe(404);
    expectHardened(res.headers, 'https 404');
    expect(res.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
    const csp = parseCsp(res.headers.get('content-security-policy'));
    expect(csp['connect-src']).toEqual(["'self'", 'wss://shop.example']);
    expect(csp['upgrade-insecure-requests']).toEqual([]);
  });
});
