/**
 * `/metrics` lives on the API's metrics listener only: the public port answers it 404 like any unknown
 * path, and with METRICS_TOKEN the listener asks for the bearer token Prometheus sends.
 */
import { scrapeMetrics, startTestApi, type TestApi } from '@keelson/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const TOKEN = 'c0ffee'.repeat(8);

describe('API metrics listener', () => {
  let api: TestApi;
  let guarded: TestApi;
  beforeAll(async () => {
    api = await startTestApi();
    guarded = await startTestApi({ config: { METRICS_TOKEN: TOKEN } });
  });
  afterAll(async () => {
    await api?.close();
    await guarded?.close();
  });

  it('serves /metrics apart from the public port, which answers it 404', async () => {
    expect(new URL(api.metricsUrl).port).not.toBe(new URL(api.baseUrl).port);
    const pub = await fetch(`${api.baseUrl}/metrics`);
    expect(pub.status).toBe(404);
    expect(await pub.text()).not.toMatch(/process_cpu|keelson_/);
    const { text } = await scrapeMetrics(api.metricsUrl);
    expect(text).toMatch(/^keelson_db_pool_connections\{state="idle"\} /m);
    // The metrics listener answers nothing else: the app's routes stay on the public port.
    for (const path of ['/healthz', '/readyz', '/trpc/catalog.categories']) {
      expect((await fetch(`${api.metricsUrl}${path}`)).status, path).toBe(404);
    }
  });

  it('with METRICS_TOKEN, refuses a scrape without the bearer token and serves one with it', async () => {
    const refused = await fetch(`${guarded.metricsUrl}/metrics`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
    expect((await fetch(`${guarded.metricsUrl}/metrics`, { headers: { authorization: 'Bearer nope' } })).status).toBe(
      401,
    );
    expect((await scrapeMetrics(guarded.metricsUrl, { token: TOKEN })).text).toMatch(/^nodejs_heap_size_used_bytes /m);
    // Still nothing on the public port, token or not.
    const pub = await fetch(`${guarded.baseUrl}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(pub.status).toBe(404);
  });

  it('stops listening when the app closes', async () => {
    const extra = await startTestApi({ db: api.db });
    const url = extra.metricsUrl;
    expect((await fetch(`${url}/metrics`)).status).toBe(200);
    await extra.close();
    await expect(fetch(`${url}/metrics`)).rejects.toThrow();
  });
});
