/**
 * What the API answers at the URLs people open: the web app (plugins/webApp.ts) with its caching and its
 * fallback that never shadows the API's own paths; `/trpc`'s procedure list; and, without a build, `/`
 * as the procedure list saying how to build the app.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTestApi, type TestApi } from '@keelson/testing';
import { appRouter } from '@keelson/trpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const get = (api: TestApi, p: string, headers: Record<string, string> = { accept: 'text/html' }) =>
  fetch(`${api.baseUrl}${p}`, { headers });

describe('the web app on the API origin', () => {
  let api: TestApi;
  let dir: string;
  beforeAll(async () => {
    // A stand-in build with the shape of Vite's: index.html and hashed assets, one with a .br twin.
    dir = await mkdtemp(path.join(tmpdir(), 'keelson-web-'));
    await mkdir(path.join(dir, 'assets'));
    await writeFile(path.join(dir, 'index.html'), '<!doctype html><title>app</title><div id="root"></div>');
    await writeFile(path.join(dir, 'assets/index-abc123.js'), 'console.log(1)'.repeat(200));
    await writeFile(path.join(dir, 'assets/index-abc123.js.br'), 'BROTLI');
    await writeFile(path.join(dir, 'robots.txt'), 'User-agent: *');
    api = await startTestApi({ config: { WEB_DIR: dir } });
  });
  afterAll(async () => {
    await api.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("serves index.html for the app's paths, revalidated on every load, under the CSP", async () => {
    for (const p of ['/', '/products/oak-mug', '/account/orders/1?x=1', '/verify-email', '/admin/jobs']) {
      const res = await get(api, p);
      expect(res.status, p).toBe(200);
      expect(res.headers.get('content-type'), p).toContain('text/html');
      expect(res.headers.get('cache-control'), p).toBe('no-cache');
      expect(res.headers.get('content-security-policy'), p).toContain("script-src 'self'");
      expect(await res.text(), p).toContain('<div id="root"></div>');
    }
    expect((await get(api, '/index.html')).status).toBe(404);
  });

  it('hashed assets are immutable; a pre-compressed twin goes to browsers that take it', async () => {
    const plain = await get(api, '/assets/index-abc123.js', { 'accept-encoding': 'identity' });
    expect(plain.status).toBe(200);
    expect(plain.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await plain.text()).toContain('console.log(1)');
    const br = await fetch(`${api.baseUrl}/assets/index-abc123.js`, { headers: { 'accept-encoding': 'br' } }).catch(
      () => null,
    );
    // fetch cannot decode the stand-in "BROTLI" body; the header is what matters.
    expect(br === null || br.headers.get('content-encoding') === 'br').toBe(true);
    const robots = await get(api, '/robots.txt');
    expect(robots.headers.get('cache-control')).toBe('no-cache');
  });

  it("never answers the API's paths or missing files with the app", async () => {
    for (const p of [
      '/trpc/no.such.procedure',
      '/auth/nope',
      '/reports/x',
      '/metrics',
      '/assets/index-old999.js',
      '/logo.png',
      '/healthz/x',
    ]) {
      const res = await get(api, p);
      expect(res.status, p).toBe(404);
      expect(res.headers.get('content-type'), p).toContain('application/json');
    }
    expect((await get(api, '/healthz')).status).toBe(200);
    expect((await get(api, '/readyz')).status).toBe(200);
  });

  it('`/trpc` lists every procedure: a page for a person, JSON for a program', async () => {
    const names = Object.keys(appRouter._def.procedures);
    const page = await get(api, '/trpc');
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain(`<h2>${names.length} procedures</h2>`);
    for (const name of names) expect(html, name).toContain(`<code>${name}</code>`);
    expect(html).toContain('<tr><td><code>orders.onStatusChange</code></td><td>subscription</td></tr>');
    const json = await get(api, '/trpc', { accept: 'application/json' });
    const { procedures } = (await json.json()) as { procedures: { path: string; type: string }[] };
    expect(procedures).toHaveLength(names.length);
    expect(procedures).toContainEqual({ path: 'auth.logIn', type: 'mutation' });
    expect((await api.client.catalog.list.query({ limit: 1 })).items).toEqual([]);
    // Without an OIDC provider configured, the sign-in page offers passwords only.
    expect(await api.client.auth.signInOptions.query()).toEqual({ password: true, oidc: false });
  });
});

describe('an API without a web app build', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi({ config: { WEB_DIR: path.join(tmpdir(), 'keelson-no-such-build') } });
  });
  afterAll(() => api.close());

  it('answers `/` with the procedure list and how to build the app; app paths are 404s', async () => {
    const res = await get(api, '/');
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('pnpm --filter @keelson/web build');
    expect(html).toContain('<code>catalog.list</code>');
    expect((await get(api, '/account')).status).toBe(404);
  });
});
