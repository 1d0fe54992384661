/**
 * Builds the web app when its build is missing or older than its sources (its own and
 * `@keelson/client`'s), for `pnpm start` and the test run: a fresh clone serves the app on first start,
 * and an edited page is rebuilt on the next one. Vite runs in a process of its own with NODE_ENV=production
 * (under vitest, NODE_ENV=test would bundle React's development build).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';

export const webRoot = import.meta.dirname;
export const webDist = path.join(webRoot, 'dist');
const SOURCES = [
  path.join(webRoot, 'src'),
  path.join(webRoot, 'index.html'),
  path.join(webRoot, 'vite.config.ts'),
  path.join(webRoot, 'package.json'),
  path.join(webRoot, '../../packages/client/src'),
];

function newestMtime(p: string): number {
  const s = statSync(p, { throwIfNoEntry: false });
  if (!s) return 0;
  if (!s.isDirectory()) return s.mtimeMs;
  let newest = s.mtimeMs;
  for (const entry of readdirSync(p)) newest = Math.max(newest, newestMtime(path.join(p, entry)));
  return newest;
}

/** Whether `dist/index.html` is missing or older than any source. */
export function webBuildStale(): boolean {
  const index = path.join(webDist, 'index.html');
  if (!existsSync(index)) return true;
  const built = statSync(index).mtimeMs;
  return SOURCES.some((s) => newestMtime(s) > built);
}

/** Builds into `dist/` if stale; resolves to whether it built. */
export async function ensureWebBuild(opts: { log?: (line: string) => void } = {}): Promise<boolean> {
  if (!webBuildStale()) return false;
  opts.log?.('building the web app (apps/web)');
  const vite = path.join(path.dirname(createRequire(import.meta.url).resolve('vite/package.json')), 'bin/vite.js');
  await promisify(execFile)(process.execPath, [vite, 'build', '--logLevel', 'warn'], {
    cwd: webRoot,
    // biome-ignore lint/style/noProcessEnv: the child gets this environment with NODE_ENV replaced
    env: { ...process.env, NODE_ENV: 'production' },
    maxBuffer: 16 * 1024 * 1024,
  });
  return true;
}
