/**
 * The web app's tests run the whole stack as `pnpm start` runs it, in this process: the API serving the
 * built app (globalSetup builds it when stale), the worker taking payments and sending email into a
 * mail folder, one database of the file's own, and a real Chromium. One stack per test file.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  createProduct,
  createUsers,
  freePort,
  startTestApi,
  startTestWorker,
  type TestApi,
  type TestUser,
  type TestWorker,
} from '@keelson/testing';
import { launchBrowser } from '@keelson/testing/browser';
import type { Browser, BrowserContext, Page } from 'playwright-core';

export interface WebStack extends AsyncDisposable {
  api: TestApi;
  worker: TestWorker;
  browser: Browser;
  /** `http://127.0.0.1:<port>`: the app and the API on one origin. */
  baseUrl: string;
  /** Where the worker writes each email as an .eml file. */
  mailDir: string;
  /** Script errors and CSP violations seen on any page of the stack: none is expected. */
  pageErrors: string[];
  /** A fresh browser profile (cookies and storage of its own), signed in as `user` when given. */
  newContext(user?: TestUser): Promise<BrowserContext>;
  /** Closes every context opened so far (an `afterEach`: a failed test leaves no page open behind it). */
  closeContexts(): Promise<void>;
  /** A page in `context` (a new one by default) whose errors land in `pageErrors`. */
  newPage(context?: BrowserContext): Promise<Page>;
  /** Users with a session, verified emails, names `Test <email>`; `role` admin for staff. */
  users(count: number, role?: 'customer' | 'admin'): Promise<TestUser[]>;
  product(opts: { priceCents: number; stock: number; name?: string; category?: string }): Promise<{
    id: string;
    slug: string;
    name: string;
  }>;
  /** The newest email to `to` (waits for it), as its raw .eml text. */
  mailTo(to: string, opts?: { timeoutMs?: number; subject?: RegExp }): Promise<string>;
  close(): Promise<void>;
}

export async function startWebStack(opts: { config?: Record<string, string> } = {}): Promise<WebStack> {
  const mailDir = await mkdtemp(path.join(tmpdir(), 'keelson-web-mail-'));
  // A port chosen first, so that the links the worker puts in emails (PUBLIC_URL) point at this API.
  const port = await freePort();
  const config = {
    MAIL_DIR: mailDir,
    SUBSCRIPTION_AUTH_RECHECK_MS: '500',
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    ...opts.config,
  };
  const api = await startTestApi({ config: { PORT: String(port), ...config } });
  const worker = await startTestWorker({ db: api.db, config });
  const browser = await launchBrowser();
  const pageErrors: string[] = [];
  const baseUrl = api.baseUrl;
  const cookieName = 'keelson_session';

  const contexts = new Set<BrowserContext>();
  const newContext = async (user?: TestUser) => {
    const context = await browser.newContext({ baseURL: baseUrl });
    contexts.add(context);
    context.once('close', () => contexts.delete(context));
    context.setDefaultTimeout(15_000);
    if (user) await context.addCookies([{ name: cookieName, value: user.token, url: baseUrl }]);
    return context;
  };
  const newPage = async (context?: BrowserContext) => {
    const page = await (context ?? (await newContext())).newPage();
    page.on('console', (m) => {
      // 4xx answers the app shows as text are logged by Chromium as failed loads: not script errors.
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) pageErrors.push(m.text());
    });
    page.on('pageerror', (err) => pageErrors.push(err.message));
    return page;
  };

  const mailTo = async (to: string, o: { timeoutMs?: number; subject?: RegExp } = {}) => {
    const deadline = Date.now() + (o.timeoutMs ?? 15_000);
    for (;;) {
      const files = (await readdir(mailDir).catch(() => [] as string[])).filter((f) => f.endsWith('.eml')).sort();
      for (const f of files.reverse()) {
        const text = await readFile(path.join(mailDir, f), 'utf8');
        if (!new RegExp(`^To: .*${to.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'mi').test(text)) continue;
        if (o.subject && !o.subject.test(text)) continue;
        return text;
      }
      if (Date.now() > deadline) throw new Error(`no email to ${to} within ${o.timeoutMs ?? 15_000} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  const close = async () => {
    await browser.close().catch(() => {});
    await worker.stop();
    await api.close();
    await rm(mailDir, { recursive: true, force: true });
  };
  return {
    api,
    worker,
    browser,
    baseUrl,
    mailDir,
    pageErrors,
    newContext,
    closeContexts: async () => {
      await Promise.all([...contexts].map((c) => c.close().catch(() => {})));
    },
    newPage,
    users: (count, role = 'customer') => createUsers(api.db.url, count, { role }),
    product: (p) => createProduct(api.db.url, p),
    mailTo,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** The first link to `pathname` (`/verify-email`) in an .eml, quoted-printable and HTML entities undone. */
export function mailLink(eml: string, pathname: string): string {
  const text = eml
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)))
    .replace(/&amp;/g, '&');
  const link = text.match(new RegExp(`https?://[^\\s"'<>]+${pathname}[^\\s"'<>]*`))?.[0];
  if (!link) throw new Error(`no ${pathname} link in the email`);
  return link;
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface AxeViolation {
  id: string;
  impact: 'minor' | 'moderate' | 'serious' | 'critical' | null;
  help: string;
  nodes: { target: string[] }[];
}

/**
 * What axe-core (WCAG 2.x A/AA rules and best practices) finds serious or critical on the page as it is
 * drawn now, one line per violation naming the elements. Injected through the DevTools protocol, which
 * the page's CSP does not govern.
 */
export async function axeViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: AxeViolation[] }> } }).axe;
    return (await axe.run()).violations;
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}
