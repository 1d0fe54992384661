/**
 * The README's examples run as pasted, in the README's order, against a live `pnpm start` stack. A code
 * block that calls the API carries a marker on the line above it:
 *   <!-- example -->              run it; it must exit 0
 *   <!-- example: stays open -->  a subscription: it must stay up without an error, then it is stopped
 *   <!-- example: browser -->     a browser page on the API's origin: run with `location` set and a
 *                                 cookie jar, as a browser would keep the session cookie
 *   <!-- not an example: why -->  shown but not run (a fragment, a placeholder host)
 * Only the host changes: `http://127.0.0.1:3000` and `https://shop.example` become the test stack's.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, repoRoot, startProcess } from '@keelson/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

interface Example {
  line: number;
  lang: string;
  marker: string | null;
  code: string;
}

/** Every fenced block with the marker on the line above it (null when there is none). */
export function examples(readme: string): Example[] {
  const lines = readme.split('\n');
  const found: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = lines[i]?.match(/^```(\w+)/);
    if (!open) continue;
    const end = lines.indexOf('```', i + 1);
    const marker = lines[i - 1]?.match(/^<!-- (example(?:: [\w ]+)?|not an example: .+) -->$/)?.[1] ?? null;
    found.push({ line: i + 1, lang: open[1] as string, marker, code: lines.slice(i + 1, end).join('\n') });
    i = end;
  }
  return found;
}

const callsTheApi = (e: Example) =>
  ['ts', 'sh'].includes(e.lang) &&
  /\/trpc|createClient|127\.0\.0\.1:3000/.test(e.code) &&
  !/docker compose/.test(e.code);

/** What a browser on the API's origin has that Node lacks: `location`, and cookies kept and sent. */
const browserPrelude = (base: string) => `
Object.defineProperty(globalThis, 'location', { value: new URL('${base}/'), configurable: true });
const jar = new Map<string, string>();
const nodeFetch = globalThis.fetch;
globalThis.fetch = async (input: RequestInfo | URL, init: RequestInit = {}) => {
  const headers = new Headers(init.headers);
  if (jar.size) headers.set('cookie', [...jar].map(([k, v]) => k + '=' + v).join('; '));
  headers.set('origin', '${base}');
  const res = await nodeFetch(input, { ...init, headers });
  for (const c of res.headers.getSetCookie()) {
    const [pair = ''] = c.split(';');
    const [name = '', value = ''] = pair.split('=');
    if (/max-age=0|expires=thu, 01 jan 1970/i.test(c)) jar.delete(name);
    else jar.set(name, value);
  }
  return res;
};
`;

/** Runs a command; resolves with its exit code (null when stopped) and output. */
function run(cmd: string, args: string[], opts: { stopAfterMs?: number; timeoutMs: number }) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    // A group of its own, so that stopping a shell example stops the curl it runs too.
    const child = spawn(cmd, args, {
      cwd: repoRoot,
      detached: true,
      // biome-ignore lint/style/noProcessEnv: a shell example's `node` must be the Node running the tests.
      env: { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH}` },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const stop = setTimeout(() => process.kill(-(child.pid as number), 'SIGTERM'), opts.stopAfterMs ?? opts.timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(stop);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('README TypeScript examples', () => {
  it('type-check as strict TypeScript, as in a frontend project', async () => {
    const dir = path.join(repoRoot, 'apps/dev/.readme-types');
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    try {
      const blocks = examples(readFileSync(path.join(repoRoot, 'README.md'), 'utf8')).filter(
        (e) => e.lang === 'ts' && e.marker?.startsWith('example'),
      );
      for (const e of blocks) await writeFile(path.join(dir, `readme-${e.line}.ts`), e.code);
      await writeFile(
        path.join(dir, 'tsconfig.json'),
        JSON.stringify({
          extends: '../../../tsconfig.json',
          compilerOptions: { lib: ['es2024', 'esnext.disposable', 'dom'] },
          include: ['*.ts'],
        }),
      );
      const tsc = path.join(repoRoot, 'node_modules/.bin/tsc');
      const result = await run(tsc, ['-p', path.join(dir, 'tsconfig.json')], { timeoutMs: 60_000 });
      expect(result.stdout + result.stderr).toBe('');
      expect(result.code).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 70_000);
});

describe('README examples, as pasted, against a live stack', () => {
  const all = examples(readFileSync(path.join(repoRoot, 'README.md'), 'utf8'));
  let dir: string;
  let base: string;
  let stack: Awaited<ReturnType<typeof startProcess>>;
  const scratch = path.join(repoRoot, 'apps/dev/.readme-examples');

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'keelson-readme-'));
    const port = await freePort();
    stack = startProcess('apps/dev/src/start.ts', {
      EMBEDDED_PG_DIR: path.join(dir, 'pg'),
      EMBEDDED_PG_PORT: String(await freePort()),
      PORT: String(port),
      WORKER_HTTP_PORT: String(await freePort()),
      LOG_LEVEL: 'warn',
    });
    await stack.waitFor(/API ready/, 90_000);
    base = `http://127.0.0.1:${port}`;
    // Inside the workspace, so that `@keelson/client` resolves as it does for a package that depends on it.
    await mkdir(scratch, { recursive: true });
  }, 120_000);
  afterAll(async () => {
    await stack?.stop('SIGTERM');
    await rm(dir, { recursive: true, force: true });
    await rm(scratch, { recursive: true, force: true });
  });

  it('marks every block that calls the API as run or not, with a reason', () => {
    const unmarked = all.filter((e) => callsTheApi(e) && !e.marker).map((e) => `README.md:${e.line}`);
    expect(unmarked).toEqual([]);
    expect(all.filter((e) => e.marker?.startsWith('example')).length).toBeGreaterThanOrEqual(8);
  });

  for (const example of all.filter((e) => e.marker?.startsWith('example'))) {
    it(`README.md:${example.line} (${example.lang}, ${example.marker})`, async () => {
      const code = example.code.replaceAll('http://127.0.0.1:3000', base).replaceAll('https://shop.example', base);
      const staysOpen = example.marker === 'example: stays open';
      let result: Awaited<ReturnType<typeof run>>;
      if (example.lang === 'sh') {
        result = await run('bash', ['-euo', 'pipefail', '-c', code], {
          timeoutMs: 30_000,
          stopAfterMs: staysOpen ? 3000 : undefined,
        });
      } else {
        const file = path.join(scratch, `readme-${example.line}.ts`);
        await writeFile(file, example.marker === 'example: browser' ? `${browserPrelude(base)}\n${code}` : code);
        result = await run(process.execPath, [file], { timeoutMs: 30_000, stopAfterMs: staysOpen ? 3000 : undefined });
      }
      const output = `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
      if (staysOpen) {
        expect(result.code, output).toBeNull(); // still running when stopped
      } else {
        expect(result.code, output).toBe(0);
      }
      expect(result.stderr, output).toBe('');
    }, 40_000);
  }
});
