/** The hostHeader plugin: a Host header that names no host answers 400 before any route sees it. */
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostHeader, isValidHost } from '../src/plugins/hostHeader.ts';

describe('hostHeader plugin', () => {
  const app = Fastify();
  beforeAll(async () => {
    await app.register(hostHeader);
    app.get('/where', async (req) => ({ host: req.headers.host }));
    await app.ready();
  });
  afterAll(() => app.close());

  it.each(['shop.example', 'shop.example:8443', '127.0.0.1:3000', '[::1]:3000', 'localhost', 'xn--bcher-kva.example'])(
    'accepts %s',
    async (host) => {
      expect(isValidHost(host)).toBe(true);
      const res = await app.inject({ url: '/where', headers: { host } });
      expect(res.json()).toEqual({ host });
    },
  );

  it.each(['a b', '[', '%%', 'shop.example/evil', 'user@shop.example', 'shop.example?x', 'shop.example:port'])(
    'refuses %j with 400',
    async (host) => {
      expect(isValidHost(host)).toBe(false);
      const res = await app.inject({ url: '/where', headers: { host } });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ appCode: 'VALIDATION_FAILED', requestId: expect.any(String) });
    },
  );

  it('calls an empty Host no host (inject cannot send one; the HTTP test does)', () => {
    expect(isValidHost('')).toBe(false);
  });
});
