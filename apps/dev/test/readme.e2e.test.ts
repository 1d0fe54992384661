/**
 * The examples of README.md and of every docs/*.md run as pasted, in reading order (see DOCS), against a
 * live `pnpm start` stack. A code block that calls the API carries a marker on the line above it:
 *   <!-- example -->              run it; it must exit 0
 *   <!-- example: stays open -->  a subscription: it must stay up without an error, then it is stopped
 *   <!-- example: browser -->     a browser page on the API's origin: run with `location` set and a
 *                                 cookie jar, as a browser would keep the session cookie
 *   <!-- not an example: why -->  shown but not run (a fragment, a placeholder host)
 * Only the host changes: `http://127.0.0.1:3000` and `https://shop.example` become the test stack's.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { closeClient, createClient } from '@keelson/client';
import { repoRoot, stackEnv, startProcess } from '@keelson/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

interface Example {
  /** The file, relative to the repository: `README.md`, `docs/api.md`. */
  file: string;
  line: number;
  lang: string;
  marker: string | null;
  code: string;
}

/** Every fenced block of `file`'s text with the marker on the line above it (null when there is none). */
export function examples(readme: string, file = 'README.md'): Example[] {
  const lines = readme.split('\n');
  const found: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = lines[i]?.match(/^```(\w+)/);
    if (!open) continue;
    const end = lines.indexOf('```', i + 1);
    const marker = lines[i - 1]?.match(/^<!-- (example(?:: [\w ]+)?|not an example: .+) -->$/)?.[1] ?? null;
    found.push({ file, line: i + 1, lang: open[1] as string, marker, code: lines.slice(i + 1, end).join('\n') });
    i = end;
  }
  return found;
}

/**
 * The files whose examples run, in this order: examples depend on the ones before them (the sign-up in
 * docs/accounts.md comes before every log-in as Ada, who then shops and subscribes). These first, in the
 * order a reader meets them from the README's Reference list; then every other docs/*.md, by name, so a
 * new file's blocks are checked too.
 */
const ORDERED = ['README.md', 'docs/api.md', 'docs/accounts.md', 'docs/commerce.md', 'docs/realtime.md'];
const DOCS = [
  ...ORDERED,
  ...readdirSync(path.join(repoRoot, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`)
    .filter((file) => !ORDERED.includes(file))
    .sort(),
];

/** Every example block of every file of DOCS, in running order. */
const allExamples = (): Example[] =>
  DOCS.flatMap((file) => examples(readFileSync(path.join(repoRoot, file), 'utf8'), file));

/** A file name for an example's code: `docs/api.md` line 5 → `docs-api-md-5.ts`. */
const scriptName = (e: Example) => `${e.file.replaceAll(/\W/g, '-')}-${e.line}.ts`;

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

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command; resolves with its exit code (null when stopped) and output. With `live`, the command
 * is a subscription: once it has had time to connect, `trigger` makes an event happen, and it is stopped
 * as soon as its output matches `prints` (or at the timeout, which then fails the match).
 */
function run(
  cmd: string,
  args: string[],
  opts: { timeoutMs: number; live?: { trigger: () => Promise<unknown>; prints: RegExp } },
): Promise<Run> {
  return new Promise((resolve, reject) => {
    // A group of its own, so that stopping a shell example stops the curl it runs too.
    const child = spawn(cmd, args, {
      cwd: repoRoot,
      detached: true,
      // biome-ignore lint/style/noProcessEnv: a shell example's `node` must be the Node running the tests.
      env: { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH}` },
    });
    let stdout = '';
    let stderr = '';
    const kill = () => {
      try {
        process.kill(-(child.pid as number), 'SIGTERM');
      } catch {}
    };
    child.stdout.on('data', (d) => {
      stdout += d;
      if (opts.live?.prints.test(stdout)) kill();
    });
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(kill, opts.timeoutMs);
    const triggerTimer = opts.live && setTimeout(() => opts.live?.trigger().catch(reject), 1500);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (triggerTimer) clearTimeout(triggerTimer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Shell examples fail on an HTTP error, as a user would notice one. */
const SHELL_PRELUDE = 'curl() { command curl --fail-with-body "$@"; }\n';

describe('README and docs TypeScript examples', () => {
  it('type-check as strict TypeScript, as in a frontend project', async () => {
    const dir = path.join(repoRoot, 'apps/dev/.readme-types');
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    try {
      const blocks = allExamples().filter((e) => e.lang === 'ts' && e.marker?.startsWith('example'));
      expect(new Set(blocks.map((e) => e.file)).size).toBeGreaterThanOrEqual(4);
      for (const e of blocks) await writeFile(path.join(dir, scriptName(e)), e.code);
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

describe('README and docs examples, as pasted, against a live stack', () => {
  const all = allExamples();
  let dir: string;
  let base: string;
  let stack: Awaited<ReturnType<typeof startProcess>>;
  let adminPassword: string;
  const scratch = path.join(repoRoot, 'apps/dev/.readme-examples');

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'keelson-readme-'));
    const env = await stackEnv(dir);
    stack = startProcess('apps/dev/src/start.ts', env);
    const [, password] = (await stack.waitFor(/with password: (\S+)/, 90_000)) as [string, string];
    adminPassword = password;
    await stack.waitFor(/API ready/, 90_000);
    base = `http://127.0.0.1:${env.PORT}`;
    // Inside the workspace, so that `@keelson/client` resolves as it does for a package that depends on it.
    await mkdir(scratch, { recursive: true });
  }, 120_000);
  afterAll(async () => {
    await stack?.stop('SIGTERM');
    await rm(dir, { recursive: true, force: true });
    await rm(scratch, { recursive: true, force: true });
  });

  it('marks every block that calls the API as run or not, with a reason', () => {
    const unmarked = all.filter((e) => callsTheApi(e) && !e.marker).map((e) => `${e.file}:${e.line}`);
    expect(unmarked).toEqual([]);
    expect(all.filter((e) => e.marker?.startsWith('example')).length).toBeGreaterThanOrEqual(8);
  });

  /** What makes an event for a subscription example: a restock for stock, an order for orders and the inbox. */
  async function trigger(code: string): Promise<void> {
    const anonymous = createClient({ url: `${base}/trpc` });
    try {
      if (/onStockChange/.test(code)) {
        const { token } = await anonymous.auth.logIn.mutate({ email: 'admin@keelson.local', password: adminPassword });
        const admin = createClient({ url: `${base}/trpc`, token: () => token });
        const mugs = [...(await admin.catalog.list.query({ q: 'mug', limit: 2 })).items];
        mugs.push(await admin.catalog.get.query({ slug: 'oak-mug' }));
        for (const p of mugs) await admin.catalog.restock.mutate({ productId: p.id, delta: 1 });
        await closeClient(admin);
      }
      if (/onStatusChange|notifications\.onNew/.test(code)) {
        const ada = { email: 'ada@example.com', password: 'correct horse battery staple' };
        const { token } = await anonymous.auth.logIn.mutate(ada);
        const api = createClient({ url: `${base}/trpc`, token: () => token });
        const mug = (await api.catalog.list.query({ q: 'mug', limit: 20 })).items.find((p) => p.stock >= 1);
        await api.cart.clear.mutate();
        await api.cart.addItem.mutate({ productId: mug?.id as string, quantity: 1 });
        await api.orders.checkout.mutate({ idempotencyKey: randomUUID(), paymentToken: 'tok_visa' });
        await closeClient(api);
      }
    } finally {
      await closeClient(anonymous);
    }
  }

  for (const example of all.filter((e) => e.marker?.startsWith('example'))) {
    it(`${example.file}:${example.line} (${example.lang}, ${example.marker})`, async () => {
      const code = example.code.replaceAll('http://127.0.0.1:3000', base).replaceAll('https://shop.example', base);
      // A subscription must deliver the event the test then causes: a stock `data:` line for curl, a line for a script.
      const live =
        example.marker === 'example: stays open'
          ? { trigger: () => trigger(code), prints: example.lang === 'sh' ? /^data: .*"stock"/m : /\S/ }
          : undefined;
      let result: Run;
      if (example.lang === 'sh') {
        // --norc: a bash whose stdin is a socket (some CI runners, remote shells) reads bashrc otherwise.
        result = await run('bash', ['--norc', '-euo', 'pipefail', '-c', SHELL_PRELUDE + code], {
          timeoutMs: 15_000,
          live,
        });
      } else {
        const file = path.join(scratch, scriptName(example));
        await writeFile(file, example.marker === 'example: browser' ? `${browserPrelude(base)}\n${code}` : code);
        result = await run(process.execPath, [file], { timeoutMs: 15_000, live });
      }
      const output = `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
      if (live) {
        expect(result.stdout, output).toMatch(live.prints);
        expect(result.code, output).toBeNull(); // still running when stopped
      } else {
        expect(result.code, output).toBe(0);
      }
      expect(result.stderr, output).toBe('');
    }, 30_000);
  }
});
