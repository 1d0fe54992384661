/**
 * A real Chromium for browser tests (Debian's, found by `findTool`; declare `needsTool('chromium')`), in
 * a profile of its own that the returned context removes on close.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { findTool } from './tools.ts';

/** The closed network makes Chromium's background services misbehave: they are all off. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Rejects when `promise` takes longer than `ms`: nothing a browser does may hang a test run. */
export function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export async function launchChromium(
  opts: { launchTimeoutMs?: number; stepTimeoutMs?: number } = {},
): Promise<BrowserContext & AsyncDisposable> {
  const executablePath = findTool('chromium');
  // Only under KEELSON_REQUIRE_TOOLS=1 (needsTool skips the test otherwise).
  if (!executablePath) throw new Error("chromium is not installed: install Debian's chromium package, as .ci/run does");
  const profile = await mkdtemp(path.join(tmpdir(), 'keelson-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: opts.launchTimeoutMs ?? 30_000,
  });
  context.setDefaultTimeout(opts.stepTimeoutMs ?? 15_000);
  const close = async () => {
    await within(10_000, 'closing Chromium', context.close()).catch(() => {});
    await rm(profile, { recursive: true, force: true });
  };
  return Object.assign(context, { [Symbol.asyncDispose]: close });
}

/**
 * A Chromium whose `newContext()` gives independent browser profiles (cookies, storage): a customer and
 * an admin side by side, each in a context of their own.
 */
export async function launchBrowser(
  opts: { launchTimeoutMs?: number } = {},
): Promise<import('playwright-core').Browser & AsyncDisposable> {
  const executablePath = findTool('chromium');
  if (!executablePath) throw new Error("chromium is not installed: install Debian's chromium package, as .ci/run does");
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: opts.launchTimeoutMs ?? 30_000,
  });
  const close = () => within(10_000, 'closing Chromium', browser.close()).catch(() => {});
  return Object.assign(browser, { [Symbol.asyncDispose]: close });
}
