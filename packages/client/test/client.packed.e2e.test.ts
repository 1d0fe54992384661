/**
 * First contact: `@keelson/client` as a frontend outside this repository gets it. The package is built and
 * packed, then installed with npm from the registry into a scratch Vite + TypeScript project in the
 * system's temp directory, where none of the workspace's node_modules can be reached, beside the tRPC peers
 * and @trpc/tanstack-react-query, as a React app would. There it type-checks (with the project's own tsc),
 * bundles for browsers (vite build), and calls a live API from Node.
 *
 * Versions are those create-vite 9.3 scaffolds today (typescript ~7.0.2, vite ^8.3.4), pinned so that a run
 * means the same next month. npm's cache lives in ~/.cache/keelson/npm-client, so only the first run downloads.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot, startTestApi, type TestApi } from '@keelson/testing';
import { createProduct } from '@keelson/testing/commerce';
import { runOutside as sh, runOutsideResult as shResult } from '@keelson/testing/outside';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const clientDir = path.join(repoRoot, 'packages/client');

const versions = {
  trpc: '11.22.1',
  typescript: '7.0.2',
  vite: '8.4.0',
  react: '19.3.1',
  typesReact: '19.3.0',
  reactQuery: '5.108.2',
};

/** Which of these packages Node can find from `dir`, by require or import, in a process of the scratch project's. */
async function resolvable(dir: string, specifiers: string[]): Promise<Record<string, boolean>> {
  const script = `import { createRequire } from 'node:module';
const require = createRequire(process.cwd() + '/');
const found = {};
for (const s of JSON.parse(process.argv[1])) {
  found[s] = false;
  try { require.resolve(s); found[s] = true; } catch {}
  try { import.meta.resolve(s); found[s] = true; } catch {}
}
console.log(JSON.stringify(found));`;
  const { stdout } = await sh(process.execPath, ['--input-type=module', '-e', script, JSON.stringify(specifiers)], {
    cwd: dir,
  });
  return JSON.parse(stdout);
}

/** The server's packages, none of which a frontend may end up with. */
const serverPackages = [
  '@keelson/trpc',
  '@keelson/db',
  'fastify',
  '@mikro-orm/core',
  'pg',
  'lucia',
  'graphile-worker',
  'zod',
];
const nowhere = Object.fromEntries(serverPackages.map((p) => [p, false]));

const files: Record<string, string> = {
  'tsconfig.json': JSON.stringify(
    {
      compilerOptions: {
        target: 'es2023',
        module: 'esnext',
        moduleResolution: 'bundler',
        lib: ['ES2023', 'DOM', 'DOM.Iterable'],
        types: ['vite/client'],
        strict: true,
        noEmit: true,
        verbatimModuleSyntax: true,
        allowImportingTsExtensions: true,
        skipLibCheck: true,
      },
      include: ['src'],
    },
    null,
    2,
  ),
  // The same project, checking only the file whose wrong input has no @ts-expect-error.
  'tsconfig.bites.json': JSON.stringify({ extends: './tsconfig.json', include: ['bites/wrongInput.ts'] }),
  // The same project checking declarations too. @trpc/server's own need @types/node (its adapters) and the
  // disposable lib, which a browser project does not have; the client's must need neither.
  'tsconfig.libs.json': JSON.stringify({ extends: './tsconfig.json', compilerOptions: { skipLibCheck: false } }),
  'index.html':
    '<!doctype html><html><body><ul id="products"></ul><script type="module" src="/src/main.ts"></script></body></html>\n',
  'src/api.ts': `import { createClient, type RouterOutputs } from '@keelson/client';

// Relative: the API behind the same origin as the page.
export const api = createClient({ url: '/trpc' });

interface Product {
  id: string;
  slug: string;
  name: string;
  priceCents: number;
  currency: string;
  createdAt: Date;
}

export async function firstProducts(): Promise<Product[]> {
  const page: { items: Product[]; nextCursor: string | null } = await api.catalog.list.query({ limit: 2 });
  // @ts-expect-error a page is not a number: the output type is real, not any
  const wrongOutput: number = await api.catalog.list.query({ limit: 2 });
  // @ts-expect-error limit is a number
  await api.catalog.list.query({ limit: 'two' });
  // @ts-expect-error no such procedure
  await api.catalog.nope.query();
  void wrongOutput;
  return page.items;
}

export type ProductPage = RouterOutputs['catalog']['list'];
`,
  'src/query.ts': `import { QueryClient } from '@tanstack/react-query';
import { createTRPCOptionsProxy } from '@trpc/tanstack-react-query';
import type { AppRouter } from '@keelson/client';
import { api } from './api.ts';

// Accepted only if both see the same @trpc/client: a second copy would make its TRPCClient a different type.
export const trpc = createTRPCOptionsProxy<AppRouter>({ client: api, queryClient: new QueryClient() });
export const listOptions = trpc.catalog.list.queryOptions({ limit: 2 });
`,
  'src/main.ts': `import { firstProducts } from './api.ts';
import { listOptions } from './query.ts';

const list = document.querySelector('#products');
console.log(listOptions.queryKey);
void firstProducts().then((products) => {
  for (const p of products) list?.append(Object.assign(document.createElement('li'), { textContent: p.name }));
});
`,
  'bites/wrongInput.ts': `import { createClient } from '@keelson/client';

await createClient({ url: '/trpc' }).catalog.list.query({ limit: 'two' });
`,
  'call.mjs': `import { createClient } from '@keelson/client';

let relative;
try {
  createClient({ url: '/trpc' });
} catch (err) {
  relative = err.message;
}
const page = await createClient({ url: process.argv[2] }).catalog.list.query({ limit: 2 });
console.log(JSON.stringify({ relative, names: page.items.map((p) => p.name), revived: page.items[0]?.createdAt instanceof Date }));
`,
};

describe('@keelson/client packed and installed outside the workspace', () => {
  let scratch: string;
  let api: TestApi;

  beforeAll(async () => {
    const started = performance.now();
    scratch = await mkdtemp(path.join(tmpdir(), 'keelson-frontend-'));
    expect(path.relative(repoRoot, scratch).startsWith('..')).toBe(true);
    // Nothing of the workspace is reachable from here: not the router package, not the server's framework.
    expect(await resolvable(scratch, serverPackages)).toEqual(nowhere);

    const packed = path.join(scratch, 'pack');
    await mkdir(packed);
    // prepack builds dist/ first.
    await sh('pnpm', ['pack', '--pack-destination', packed], { cwd: clientDir, timeoutMs: 60_000 });
    const [tarball] = await readdir(packed);
    expect(tarball).toMatch(/^keelson-client-.*\.tgz$/);

    await writeFile(
      path.join(scratch, 'package.json'),
      JSON.stringify({ name: 'scratch-frontend', private: true, type: 'module' }, null, 2),
    );
    for (const [name, text] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(scratch, name)), { recursive: true });
      await writeFile(path.join(scratch, name), text);
    }
    await sh(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        '--ignore-scripts',
        '--cache',
        // This test's own cache: two npm installs filling one cold cache at once (this test and the web
        // app's packed build, in parallel) were seen to hang until killed.
        path.join(homedir(), '.cache/keelson/npm-client'),
        path.join(packed, tarball!),
        `@trpc/client@${versions.trpc}`,
        `@trpc/server@${versions.trpc}`,
        `@trpc/tanstack-react-query@${versions.trpc}`,
        `@tanstack/react-query@${versions.reactQuery}`,
        `react@${versions.react}`,
        `@types/react@${versions.typesReact}`,
        `typescript@${versions.typescript}`,
        `vite@${versions.vite}`,
      ],
      { cwd: scratch, timeoutMs: 240_000 },
    );
    console.log(`packed and installed in ${Math.round(performance.now() - started)} ms`);

    api = await startTestApi();
    await createProduct(api.db.url, { priceCents: 1200, stock: 5, name: 'Brass lamp' });
    await createProduct(api.db.url, { priceCents: 800, stock: 5, name: 'Oak stool' });
  }, 300_000);

  afterAll(async () => {
    await api?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('installs without the server: no @keelson/* but the client, no server packages', async () => {
    expect(await resolvable(scratch, serverPackages)).toEqual(nowhere);
    expect(await resolvable(scratch, ['@keelson/client'])).toEqual({ '@keelson/client': true });
    const installed = JSON.parse(
      await readFile(path.join(scratch, 'node_modules/@keelson/client/package.json'), 'utf8'),
    );
    expect(installed.private).toBeUndefined();
    expect(installed.exports['.']).toEqual({ types: './dist/index.d.ts', import: './dist/index.js' });
    expect(installed.peerDependencies).toEqual({ '@trpc/client': versions.trpc, '@trpc/server': versions.trpc });
    const dts = await readFile(path.join(scratch, 'node_modules/@keelson/client/dist/index.d.ts'), 'utf8');
    const imported = new Set([...dts.matchAll(/(?:from |import\()["']([^"']+)["']/g)].map((m) => m[1]));
    expect([...imported].sort()).toEqual(['@trpc/client', '@trpc/server', '@trpc/server/unstable-core-do-not-import']);
    // Not one `any` in a type (comments aside): every input and output is spelt out.
    const types = dts.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    expect(types).not.toMatch(/(?<![\w$])any(?![\w$])/);
  });

  it('leaves one copy of @trpc/client and @trpc/server beside @trpc/tanstack-react-query', async () => {
    const { stdout } = await sh('npm', ['ls', '--all', '--parseable', '@trpc/client', '@trpc/server'], {
      cwd: scratch,
    });
    const copies = new Set(stdout.split('\n').filter((line) => /node_modules\/@trpc\/(client|server)$/.test(line)));
    expect([...copies].map((p) => path.relative(scratch, p)).sort()).toEqual([
      'node_modules/@trpc/client',
      'node_modules/@trpc/server',
    ]);
  });

  it('type-checks with typed inputs and outputs, and a wrong input fails the check', async () => {
    const tsc = path.join(scratch, 'node_modules/.bin/tsc');
    await sh(tsc, ['-p', 'tsconfig.json'], { cwd: scratch });
    const bites = await shResult(tsc, ['-p', 'tsconfig.bites.json'], scratch);
    expect(bites.code).not.toBe(0);
    expect(bites.output).toMatch(
      /bites\/wrongInput\.ts\(3,\d+\): error TS2322: Type 'string' is not assignable to type 'number'/,
    );
  });

  it('ships declarations that need nothing a browser project lacks (those of @trpc/server may)', async () => {
    const libs = await shResult(path.join(scratch, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.libs.json'], scratch);
    const errors = libs.output.split('\n').filter((line) => line.includes('error TS'));
    expect(errors.length > 0).toBe(libs.code !== 0);
    expect(errors.filter((line) => !line.startsWith('node_modules/@trpc/server/'))).toEqual([]);
  });

  it('bundles for browsers with vite, without Node-only modules', async () => {
    const { stdout, stderr } = await sh(path.join(scratch, 'node_modules/.bin/vite'), ['build'], { cwd: scratch });
    const output = `${stdout}${stderr}`;
    expect(output).not.toMatch(/externalized for browser compatibility/);
    const assets = await readdir(path.join(scratch, 'dist/assets'));
    const js = await Promise.all(
      assets.filter((a) => a.endsWith('.js')).map((a) => readFile(path.join(scratch, 'dist/assets', a), 'utf8')),
    );
    expect(js.join('')).toContain('/trpc');
    expect(js.join('')).not.toMatch(/["']node:[a-z]/);
  });

  it('calls the live API from the installed package', async () => {
    const { stdout } = await sh(process.execPath, ['call.mjs', `${api.baseUrl}/trpc`], { cwd: scratch });
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(result.names.sort()).toEqual(['Brass lamp', 'Oak stool']);
    expect(result.revived).toBe(true);
    expect(result.relative).toMatch(/option `url` must be an absolute URL/);
  });
});
