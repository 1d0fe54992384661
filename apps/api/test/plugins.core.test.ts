/**
 * The small plugins `buildApp` is made of, each on a bare Fastify instance of its own: request ids,
 * the access log with its latency metric, the error handler, and the health routes (on a real database).
 */
import { Writable } from 'node:stream';
import { createApiMetrics } from '@keelson/metrics';
import { testConfig } from '@keelson/testing';
import { useTestOrm } from '@keelson/testing/database';
import Fastify, { LogController } from 'fastify';
import { describe, expect, it } from 'vitest';
import accessLog from '../src/plugins/accessLog.ts';
import errorHandler from '../src/plugins/errorHandler.ts';
import gracefulShutdown from '../src/plugins/gracefulShutdown.ts';
import { health } from '../src/plugins/health.ts';
import requestId from '../src/plugins/requestId.ts';

describe('requestId plugin', () => {
  it('echoes a well-formed id from a proxy, and replaces one that could forge a log line', async () => {
    const app = Fastify({ requestIdHeader: 'x-request-id', genReqId: () => 'generated' });
    await app.register(requestId);
    app.get('/id', async (req) => ({ id: req.id }));
    try {
      const kept = await app.inject({ url: '/id', headers: { 'x-request-id': 'lb-1234:abc.def' } });
      expect(kept.headers['x-request-id']).toBe('lb-1234:abc.def');
      expect(kept.json()).toEqual({ id: 'lb-1234:abc.def' });
      const forged = await app.inject({ url: '/id', headers: { 'x-request-id': 'x\n{"level":60}' } });
      const id = forged.headers['x-request-id'];
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(forged.json()).toEqual({ id });
      const generated = await app.inject({ url: '/id' });
      expect(generated.headers['x-request-id']).toBe('generated');
    } finally {
      await app.close();
    }
  });
});

describe('errorHandler plugin', () => {
  const appWith = async () => {
    const lines: Record<string, unknown>[] = [];
    const stream = new Writable({
      write(chunk, _enc, done) {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    });
    const app = Fastify({ logger: { level: 'info', stream } });
    await app.register(errorHandler);
    app.get('/boom', async () => {
      throw new Error('secret detail');
    });
    app.get('/string', async () => {
      throw 'a string, not an Error';
    });
    app.get('/teapot', async () => {
      throw Object.assign(new Error('short and stout'), { statusCode: 418 });
    });
    app.get('/db', async () => {
      throw Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
    });
    return { app, lines };
  };

  it('answers a 500 with a generic message and the request id, and logs the detail', async () => {
    const { app, lines } = await appWith();
    try {
      const res = await app.inject({ url: '/boom' });
      expect(res.statusCode).toBe(500);
      expect(res.body).not.toContain('secret detail');
      expect(res.json()).toEqual({
        error: `Internal server error (request id ${res.json().requestId})`,
        requestId: expect.any(String),
      });
      expect(lines.some((l) => l.msg === 'unhandled error' && JSON.stringify(l).includes('secret detail'))).toBe(true);
      // A throw that is no Error is one all the same: a 500 with the generic message, logged.
      const odd = await app.inject({ url: '/string' });
      expect(odd.statusCode).toBe(500);
      expect(odd.json()).toMatchObject({ error: expect.stringMatching(/^Internal server error \(request id /) });
      expect(
        lines.some((l) => l.msg === 'unhandled error' && JSON.stringify(l).includes('a string, not an Error')),
      ).toBe(true);
    } finally {
      await app.close();
    }
  });

  it('passes a 4xx message on, and answers a lost database 503 DATABASE_UNAVAILABLE with Retry-After', async () => {
    const { app } = await appWith();
    try {
      const teapot = await app.inject({ url: '/teapot' });
      expect(teapot.statusCode).toBe(418);
      expect(teapot.json()).toMatchObject({ error: 'short and stout' });
      const db = await app.inject({ url: '/db' });
      expect(db.statusCode).toBe(503);
      expect(db.headers['retry-after']).toBe('1');
      expect(db.json()).toMatchObject({ appCode: 'DATABASE_UNAVAILABLE', requestId: expect.any(String) });
    } finally {
      await app.close();
    }
  });
});

describe('accessLog and health plugins', () => {
  const t = useTestOrm();

  it('logs one line per request and measures routes by pattern, leaving probes out', async () => {
    const lines: Record<string, unknown>[] = [];
    const stream = new Writable({
      write(chunk, _enc, done) {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    });
    const app = Fastify({
      logger: { level: 'info', stream },
      logController: new LogController({ disableRequestLogging: true }),
    });
    const metrics = createApiMetrics();
    await app.register(accessLog, { metrics, orm: t.orm });
    app.get('/items/:id', async () => ({ ok: true }));
    app.get('/healthz', async () => ({ status: 'ok' }));
    try {
      await app.inject({ url: '/items/123' });
      await app.inject({ url: '/items/456' });
      await app.inject({ url: '/healthz' });
      expect(app.metrics).toBe(metrics);
      const requests = lines.filter((l) => l.msg === 'request');
      expect(requests.map((l) => [l.url, l.status])).toEqual([
        ['/items/:id', 200],
        ['/items/:id', 200],
        ['/healthz', 200],
      ]);
      const { body } = await metrics.scrape(undefined);
      expect(body).toMatch(/keelson_http_request_duration_seconds_count\{[^}]*route="\/items\/:id"[^}]*\} 2/);
      expect(body).not.toMatch(/route="\/items\/123"/);
      expect(body).not.toMatch(/keelson_http_request_duration_seconds_count\{[^}]*route="\/healthz"/);
      // The pool gauge reads the ORM's pool on scrape.
      expect(body).toMatch(/keelson_db_pool_connections\{/);
    } finally {
      await app.close();
    }
  });

  it('answers /healthz and /readyz, and /readyz 503 once the app drains', async () => {
    const app = Fastify();
    await app.register(gracefulShutdown, { drainDelayMs: 300, graceMs: 1_000 });
    await app.register(health, { orm: t.orm, database: testConfig({ DATABASE_URL: t.db.url }).database });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    const stopping = app.stop();
    const draining = await fetch(`${base}/readyz`);
    expect(draining.status).toBe(503);
    expect(await draining.json()).toEqual({ status: 'shutting down' });
    await stopping;
  });
});
