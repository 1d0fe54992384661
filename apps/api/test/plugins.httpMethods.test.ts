/**
 * The httpMethods plugin on a bare Fastify app with the real router behind a stand-in tRPC route: 405
 * with `Allow` for methods a target does not answer, 204 with `Allow` for OPTIONS, CORS preflights and
 * unknown paths left alone.
 */
import { appRouter } from '@keelson/trpc';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import cors from '../src/plugins/cors.ts';
import { httpMethods } from '../src/plugins/httpMethods.ts';

describe('httpMethods plugin', () => {
  const app = Fastify();
  beforeAll(async () => {
    await app.register(httpMethods, { trpc: { prefix: '/trpc', router: appRouter } });
    // What fastifyTRPCPlugin registers; a GET to a mutation answers 405 as tRPC does.
    app.all('/trpc/:path', async (req, reply) => {
      const mutation = (req.params as { path: string }).path === 'auth.logIn';
      return mutation && req.method === 'GET' ? reply.code(405).send({ tRPC: 'refused' }) : { tRPC: req.method };
    });
    app.get('/healthz', async () => ({ status: 'ok' }));
    app.post('/hooks/payment', async () => ({ ok: true }));
    await app.ready();
  });
  afterAll(() => app.close());

  const call = (method: string, url: string, headers: Record<string, string> = {}) =>
    app.inject({ method: method as 'GET', url, headers });

  it.each([
    ['TRACE', '/trpc/cart.get', 'GET, HEAD, OPTIONS'],
    ['PUT', '/trpc/cart.get', 'GET, HEAD, OPTIONS'],
    ['DELETE', '/trpc/orders.onStatusChange', 'GET, HEAD, OPTIONS'],
    ['TRACE', '/trpc/auth.logIn', 'POST, OPTIONS'],
    ['HEAD', '/trpc/auth.logIn', 'POST, OPTIONS'],
    ['PATCH', '/trpc/cart.get,catalog.list', 'GET, HEAD, OPTIONS'],
    ['TRACE', '/trpc/no.such', 'GET, HEAD, POST, OPTIONS'],
    ['PROPFIND', '/trpc/cart.get?input=%7B%7D', 'GET, HEAD, OPTIONS'],
    ['TRACE', '/healthz', 'GET, HEAD, OPTIONS'],
    ['POST', '/healthz?x=1', 'GET, HEAD, OPTIONS'],
    ['GET', '/hooks/payment', 'POST, OPTIONS'],
  ])('%s %s answers 405, Allow: %s', async (method, url, allow) => {
    const res = await call(method, url);
    expect(res.statusCode).toBe(405);
    expect(res.headers.allow).toBe(allow);
    if (method !== 'HEAD') {
      expect(res.json()).toMatchObject({ appCode: 'METHOD_NOT_ALLOWED', error: expect.stringContaining('Allow') });
    }
  });

  it('adds Allow to a 405 from tRPC’s route that has none', async () => {
    const res = await call('GET', '/trpc/auth.logIn');
    expect(res.statusCode).toBe(405);
    expect(res.json()).toEqual({ tRPC: 'refused' });
    expect(res.headers.allow).toBe('POST, OPTIONS');
  });

  it('answers OPTIONS with 204 and Allow, but leaves CORS preflights to whoever handles CORS', async () => {
    const options = await call('OPTIONS', '/trpc/auth.logIn');
    expect(options.statusCode).toBe(204);
    expect(options.headers.allow).toBe('POST, OPTIONS');
    expect((await call('OPTIONS', '/healthz')).headers.allow).toBe('GET, HEAD, OPTIONS');
    const preflight = await call('OPTIONS', '/trpc/auth.logIn', { 'access-control-request-method': 'POST' });
    expect(preflight.json()).toEqual({ tRPC: 'OPTIONS' });
  });

  it('lets through what the target answers, and leaves unknown paths their 404', async () => {
    expect((await call('GET', '/trpc/cart.get')).json()).toEqual({ tRPC: 'GET' });
    expect((await call('HEAD', '/trpc/cart.get')).statusCode).toBe(200);
    expect((await call('POST', '/trpc/auth.logIn')).json()).toEqual({ tRPC: 'POST' });
    expect((await call('POST', '/trpc/no.such')).json()).toEqual({ tRPC: 'POST' });
    expect((await call('HEAD', '/healthz')).statusCode).toBe(200);
    for (const method of ['TRACE', 'PUT', 'OPTIONS']) {
      const res = await call(method, '/no/such/path');
      expect(res.statusCode).toBe(404);
      expect(res.headers.allow).toBeUndefined();
    }
  });
});

describe('httpMethods beside the CORS plugin', () => {
  const app = Fastify();
  beforeAll(async () => {
    // As in app.ts: CORS first. @fastify/cors adds an `OPTIONS *` route, which must not pass for a route.
    await app.register(cors, { allowedOrigins: ['http://app.test'] });
    await app.register(httpMethods, { trpc: { prefix: '/trpc', router: appRouter } });
    app.all('/trpc/:path', async (req) => ({ tRPC: req.method }));
    app.get('/healthz', async () => ({ status: 'ok' }));
    await app.ready();
  });
  afterAll(() => app.close());

  it('still answers OPTIONS with 204 and Allow, leaves paths without routes their 404, and CORS its preflights', async () => {
    const options = await app.inject({ method: 'OPTIONS', url: '/healthz' });
    expect(options.statusCode).toBe(204);
    expect(options.headers.allow).toBe('GET, HEAD, OPTIONS');
    expect((await app.inject({ method: 'OPTIONS', url: '/trpc/auth.logIn' })).headers.allow).toBe('POST, OPTIONS');
    for (const method of ['OPTIONS', 'TRACE'] as const) {
      const res = await app.inject({ method, url: '/no/such/path' });
      expect(res.statusCode, method).toBe(404);
      expect(res.headers.allow, method).toBeUndefined();
    }
    const preflight = await app.inject({
      method: 'OPTIONS',
      url: '/trpc/auth.logIn',
      headers: { origin: 'http://app.test', 'access-control-request-method': 'POST' },
    });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('http://app.test');
    expect(preflight.headers.allow).toBeUndefined();
  });
});
