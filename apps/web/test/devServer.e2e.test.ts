/**
 * `pnpm dev:web`: Vite's dev server (hot reload) in front of a running API. The page on the dev server's
 * origin renders, and its cookie-authenticated mutations and WebSocket pass the API's same-origin checks
 * through the proxy, as the same page served by the API does; another origin's still do not.
 */
import {
  createUsers,
  freePort,
  needsTool,
  type RunningProcess,
  startProcess,
  startTestApi,
  type TestApi,
} from '@keelson/testing';
import { launchBrowser } from '@keelson/testing/browser';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

describe('pnpm dev:web against a running API', needsTool('chromium'), () => {
  let api: TestApi;
  let browser: Browser & AsyncDisposable;
  let vite: RunningProcess;
  let devUrl: string;

  beforeAll(async () => {
    // Its own origin (PUBLIC_URL, from HOST and PORT) is what the API trusts; port 0 would name none.
    api = await startTestApi({ config: { PORT: String(await freePort()) } });
    const port = await freePort();
    devUrl = `http://127.0.0.1:${port}`;
    // What `pnpm dev:web` runs, on a port of its own.
    vite = startProcess(
      'apps/web/node_modules/vite/bin/vite.js',
      { KEELSON_API_URL: api.baseUrl },
      { args: ['apps/web', '--port', String(port)] },
    );
    await vite.waitFor(/ready in/, 30_000);
    browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    await browser?.[Symbol.asyncDispose]();
    await vite?.[Symbol.asyncDispose]();
    await api?.close();
  });

  it('serves the app with hot reload, and proxies calls, mutations and WebSockets to the API', async () => {
    const [user] = await createUsers(api.db.url, 1);
    const context = await browser.newContext();
    await context.addCookies([{ name: 'keelson_session', value: user!.token, url: devUrl }]);
    const page = await context.newPage();
    await page.goto(devUrl);
    await page.getByRole('heading', { level: 1 }).waitFor();
    expect(await page.content()).toContain('/@vite/client');

    const results = await page.evaluate(
      async (wsUrl) => {
        const mutation = await fetch('/trpc/account.updateProfile', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ json: { name: 'Through the proxy' } }),
        });
        const ws = await new Promise<string>((resolve) => {
          const socket = new WebSocket(wsUrl);
          socket.onopen = () => {
            socket.close();
            resolve('open');
          };
          socket.onclose = (e) => resolve(`closed ${e.code}`);
        });
        return { mutation: mutation.status, ws };
      },
      `${devUrl.replace('http:', 'ws:')}/trpc`,
    );
    expect(results).toEqual({ mutation: 200, ws: 'open' });
    const me = await api.newClient({ token: () => user!.token }).auth.me.query();
    expect(me?.name).toBe('Through the proxy');
    await context.close();
  });

  it('still refuses a cookie-authenticated mutation from another origin', async () => {
    const [user] = await createUsers(api.db.url, 1);
    const res = await fetch(`${devUrl}/trpc/account.updateProfile`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        origin: 'https://evil.example',
        cookie: `keelson_session=${user!.token}`,
      },
      body: JSON.stringify({ json: { name: 'Forged' } }),
    });
    expect(res.status).toBe(403);
  });
});
