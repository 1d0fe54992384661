/**
 * CORS as a browser does it: a real Chromium loads a page from http://localhost:5173 (listed in
 * ALLOWED_ORIGINS) that uses the real `@keelson/client`, bundled with Vite, against the API on
 * http://localhost:<port>. Same site, so the SameSite=Lax session cookie flows with `credentials:
 * 'include'`. The page signs up and logs in (the HttpOnly cookie, which it cannot read), sends two queries
 * as one batched request, and receives an event on an SSE and on a WebSocket subscription with the cookie
 * alone. A page on http://localhost:5174 (same site, not listed) gets CORS errors, and changes nothing.
 * (Either port, when taken, is replaced by a free one: the origins are what matter, not their numbers.)
 */
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { MikroORM } from '@keelson/db';
import { notify } from '@keelson/notifications';
import { eventually, freePort, needsTool, scrapeMetrics, sql, startTestApi, type TestApi } from '@keelson/testing';
import { launchChromium, within } from '@keelson/testing/browser';
import type { BrowserContext, ConsoleMessage, Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PageApi } from './fixtures/browser/page.ts';

const FIXTURE = path.join(import.meta.dirname, 'fixtures/browser');
/** Bounds for what could otherwise hang the run: the bundle, Chromium's start, each step in the page. */
const BUILD_TIMEOUT_MS = 60_000;
const LAUNCH_TIMEOUT_MS = 30_000;
const STEP_TIMEOUT_MS = 15_000;
/** The page's script, bundled for browsers as the web app will be (Vite), into `outDir/page.js`. */
async function bundlePage(outDir: string): Promise<void> {
  await within(
    BUILD_TIMEOUT_MS,
    'vite build',
    build({
      configFile: false,
      root: FIXTURE,
      publicDir: false,
      cacheDir: path.join(outDir, '.vite'),
      logLevel: 'warn',
      build: {
        outDir,
        emptyOutDir: false,
        minify: false,
        target: 'es2022',
        rolldownOptions: { input: path.join(FIXTURE, 'page.ts'), output: { entryFileNames: 'page.js' } },
      },
    }),
  );
}

/** A static server of the page on 127.0.0.1:`port` (5173 when free: Vite's port; any other otherwise). */
async function servePage(dir: string, preferredPort: number): Promise<{ server: Server; origin: string }> {
  const html =
    '<!doctype html><meta charset="utf-8"><title>Keelson CORS</title><script type="module" src="/page.js"></script>';
  const script = await readFile(path.join(dir, 'page.js'));
  const server = createServer((req, res) => {
    if (req.url === '/page.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    else if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html' }).end(html);
    else if (req.url === '/favicon.ico') res.writeHead(204).end();
    else res.writeHead(404).end();
  });
  for (const port of [preferredPort, await freePort()]) {
    try {
      server.listen(port, '127.0.0.1');
      await once(server, 'listening');
      return { server, origin: `http://localhost:${port}` };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }
  throw new Error('no port for the page');
}

/** How many tRPC requests the API answered, by `<method> <status>`, from its metrics. */
async function served(api: TestApi): Promise<Map<string, number>> {
  const { samples } = await scrapeMetrics(api.metricsUrl);
  const counts = new Map<string, number>();
  for (const s of samples) {
    if (s.name !== 'keelson_http_request_duration_seconds_count' || s.labels.route !== '/trpc/:path') continue;
    const key = `${s.labels.method} ${s.labels.status_code}`;
    counts.set(key, (counts.get(key) ?? 0) + s.value);
  }
  return counts;
}

async function notifyUser(orm: MikroORM, userId: string, title: string) {
  const em = orm.em.fork();
  await em.transactional((tx) =>
    notify(tx, { userId, kind: 'report_ready', title, body: 'From the CORS test.', data: {}, eventKey: title }),
  );
}

describe('CORS in Chromium', needsTool('chromium'), () => {
  let api: TestApi;
  let dir: string;
  let context: (BrowserContext & AsyncDisposable) | undefined;
  const servers: Server[] = [];
  let app: { origin: string; page: Page };
  let sibling: { origin: string; page: Page };
  /** What Chromium logged: its CORS refusals are console errors of the page. */
  const consoleErrors: string[] = [];
  /** Every request Chromium sent to the API (CORS preflights are not shown), with the Origin it sent. */
  const apiRequests: { method: string; url: string; origin: Promise<string | null> }[] = [];
  const origins = (requests: typeof apiRequests) => Promise.all(requests.map((r) => r.origin));
  let apiOrigin: string;

  /** Calls `keelson[name](arg)` in the page, within STEP_TIMEOUT_MS. */
  const call = <K extends keyof PageApi>(page: Page, name: K, ...args: Parameters<PageApi[K]>) =>
    within(
      STEP_TIMEOUT_MS,
      `page step ${name}`,
      page.evaluate(
        ([n, a]) =>
          (globalThis as unknown as { keelson: Record<string, (...x: unknown[]) => unknown> }).keelson[n]!(...a),
        [name, args] as [string, unknown[]],
      ),
    ) as Promise<Awaited<ReturnType<PageApi[K]>>>;

  beforeAll(
    async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'keelson-cors-browser-'));
      await bundlePage(dir);
      const listed = await servePage(dir, 5173);
      const unlisted = await servePage(dir, 5174);
      servers.push(listed.server, unlisted.server);
      api = await startTestApi({ config: { ALLOWED_ORIGINS: listed.origin } });
      apiOrigin = `http://localhost:${new URL(api.baseUrl).port}`;

      context = await launchChromium({ launchTimeoutMs: LAUNCH_TIMEOUT_MS, stepTimeoutMs: STEP_TIMEOUT_MS });
      context.on('request', (req) => {
        if (req.url().startsWith(apiOrigin)) {
          apiRequests.push({ method: req.method(), url: req.url(), origin: req.headerValue('origin') });
        }
      });
      const open = async (origin: string) => {
        const page = await context!.newPage();
        page.on('console', (m: ConsoleMessage) => {
          if (m.type() === 'error') consoleErrors.push(`${origin}: ${m.text()}`);
        });
        await page.goto(`${origin}/`);
        await page.waitForFunction(() => 'keelson' in globalThis);
        await call(page, 'configure', `${apiOrigin}/trpc`);
        return { origin, page };
      };
      app = await open(listed.origin);
      sibling = await open(unlisted.origin);
    },
    BUILD_TIMEOUT_MS + LAUNCH_TIMEOUT_MS + 30_000,
  );

  afterAll(async () => {
    // Each in turn whatever failed before it, the browser first: nothing outlives the file.
    await context?.[Symbol.asyncDispose]();
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    await api?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const email = `page.${Date.now()}@cors.test`;
  let userId: string;

  it('signs up, logs in and is recognised by the HttpOnly cookie alone', async () => {
    const result = await call(app.page, 'signUpAndLogIn', { email, password: 'correct horse battery staple' });
    expect(result).toMatchObject({
      signedUp: { status: 'verification_sent', email },
      loggedIn: email,
      me: { email },
      // HttpOnly: the page never holds the session.
      pageSeesCookie: '',
    });
    userId = (result as { me: { id: string } }).me.id;
    const cookies = await context!.cookies(apiOrigin);
    expect(cookies.find((c) => c.name === 'keelson_session')).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
    // Cross-origin, with the page's Origin (the CSRF check let the log-in through for it).
    const posts = apiRequests.filter((r) => r.method === 'POST');
    expect(posts.length).toBeGreaterThanOrEqual(2);
    expect(new Set(await origins(posts))).toEqual(new Set([app.origin]));
  });

  it('sends two queries as one batched request, with the cookie', async () => {
    const before = apiRequests.length;
    const result = await call(app.page, 'batch');
    expect(result).toMatchObject({ me: email, categories: true });
    const { fetched } = result as { fetched: string[] };
    expect(fetched).toHaveLength(1);
    expect(fetched[0]).toMatch(/\/trpc\/auth\.me,catalog\.categories\?batch=1&input=/);
    expect(apiRequests.slice(before).map((r) => r.url)).toEqual(fetched);
  });

  it('receives an event on an SSE and on a WebSocket subscription, authenticated by the cookie', async () => {
    await call(app.page, 'subscribe');
    // Both subscriptions registered with the API's event hub: the notification must reach each.
    await eventually(async () => api.app.events.subscriberCount >= 2, STEP_TIMEOUT_MS);
    await notifyUser(api.orm, userId, 'Your report is ready');
    await eventually(async () => {
      const got = await call(app.page, 'received');
      return got.sse.length > 0 && got.ws.length > 0;
    }, STEP_TIMEOUT_MS);
    const got = await call(app.page, 'received');
    expect(got.errors).toEqual([]);
    expect(got.sse.map((e) => e.title)).toEqual(['Your report is ready']);
    expect(got.ws.map((e) => e.title)).toEqual(['Your report is ready']);
    // The SSE stream was a cross-origin GET with the page's Origin.
    const streams = apiRequests.filter((r) => r.url.includes('/trpc/notifications.onNew?'));
    expect(await origins(streams)).toEqual([app.origin]);
  });

  it('fails with CORS errors on a page of an origin the API does not list, changing nothing', async () => {
    const before = await served(api);
    const result = await call(sibling.page, 'callFromElsewhere');
    // fetch rejects with a TypeError, whatever the answer was: the page learns nothing.
    for (const call of [result.query, result.mutation]) {
      expect(call).toMatchObject({ failed: { name: 'TRPCClientError', message: 'Failed to fetch' } });
    }
    const refusals = consoleErrors.filter((e) => e.startsWith(sibling.origin) && e.includes('blocked by CORS policy'));
    // The query was sent and its answer withheld; the mutation's preflight was refused, so it was never sent.
    expect(refusals.some((e) => e.includes("No 'Access-Control-Allow-Origin' header is present"))).toBe(true);
    expect(refusals.some((e) => e.includes('preflight'))).toBe(true);
    expect(consoleErrors.filter((e) => e.startsWith(app.origin))).toEqual([]);
    // What the API saw: the query (answered, the answer withheld by the browser) and the mutation's
    // preflight, refused; never the mutation.
    const after = await served(api);
    expect(after.get('GET 200')! - (before.get('GET 200') ?? 0)).toBe(1);
    expect(after.get('OPTIONS 403')! - (before.get('OPTIONS 403') ?? 0)).toBe(1);
    expect(after.get('POST 200')).toBe(before.get('POST 200'));
    expect(await sql(api.db.url, 'select name from app_user where id = $1', [userId])).toEqual([{ name: 'Page' }]);
  });
});
