/** `metricsRoute` over real HTTP: open without a token, bearer-only with one. */
import { createHash } from 'node:crypto';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerTokenMatches, createApiMetrics, metricsRoute } from '../src/index.ts';

const TOKEN = 'a3f1'.repeat(16);

async function serve(token: string | null) {
  const app = Fastify();
  await app.register(metricsRoute, { metrics: createApiMetrics(), token });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url };
}

describe('metricsRoute', () => {
  let open: Awaited<ReturnType<typeof serve>>;
  let guarded: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    open = await serve(null);
    guarded = await serve(TOKEN);
  });
  afterAll(async () => {
    await open?.app.close();
    await guarded?.app.close();
  });

  it('serves the registry to anyone when no token is configured', async () => {
    const res = await fetch(`${open.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.text()).toMatch(/^process_cpu_user_seconds_total /m);
  });

  it('with a token, answers 401 to a scrape without it or with another, 200 with it', async () => {
    for (const authorization of [undefined, 'Bearer wrong', `Bearer ${TOKEN}x`, `Basic ${TOKEN}`, TOKEN, 'Bearer ']) {
      const res = await fetch(`${guarded.url}/metrics`, { headers: authorization ? { authorization } : {} });
      expect(res.status, String(authorization)).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
      expect(await res.text()).not.toMatch(/process_cpu/);
    }
    // As Prometheus sends it (`authorization: { credentials_file }`), in OpenMetrics when asked.
    const res = await fetch(`${guarded.url}/metrics`, {
      headers: { authorization: `Bearer ${TOKEN}`, accept: 'application/openmetrics-text;version=1.0.0' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/openmetrics-text/);
    expect(await res.text()).toMatch(/# EOF\n$/);
    expect((await fetch(`${guarded.url}/metrics`, { headers: { authorization: `bearer ${TOKEN}` } })).status).toBe(200);
  });

  it('compares digests, so tokens of any length are checked alike', () => {
    const expected = createHash('sha256').update(TOKEN).digest();
    expect(bearerTokenMatches(`Bearer ${TOKEN}`, expected)).toBe(true);
    expect(bearerTokenMatches(`Bearer ${TOKEN.slice(0, 10)}`, expected)).toBe(false);
    expect(bearerTokenMatches(`Bearer ${TOKEN}${'0'.repeat(1000)}`, expected)).toBe(false);
    expect(bearerTokenMatches(undefined, expected)).toBe(false);
  });
});
