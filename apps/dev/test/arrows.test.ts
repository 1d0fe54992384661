/**
 * The dependency rules `pnpm check` runs (apps/dev/src/arrows.ts): the workspace obeys them, and a
 * forbidden import or an undeclared workspace package in a scratch workspace is reported.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { check, importsOf } from '../src/arrows.ts';

describe('dependency rules', () => {
  const scratch: string[] = [];
  afterAll(async () => {
    for (const dir of scratch) await rm(dir, { recursive: true, force: true });
  });

  async function workspace(files: Record<string, string>) {
    const root = await mkdtemp(path.join(tmpdir(), 'keelson-arrows-'));
    scratch.push(root);
    for (const [name, text] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(root, name)), { recursive: true });
      await writeFile(path.join(root, name), text);
    }
    return root;
  }
  const manifest = (name: string, deps: string[] = []) =>
    JSON.stringify({ name, dependencies: Object.fromEntries(deps.map((d) => [d, 'workspace:*'])) });

  it('holds in this workspace', () => {
    expect(check()).toEqual([]);
  });

  it('reads static, dynamic, type-only and re-export imports', () => {
    const text = [
      "import { a } from '@keelson/db';",
      "import type { B } from '@keelson/trpc';",
      "export { c } from './local.ts';",
      "const d = await import('fastify');",
      'import {\n  e,\n  f,\n} from "@trpc/server";',
    ].join('\n');
    expect(importsOf(text).map((i) => [i.specifier, i.typeOnly])).toEqual([
      ['@keelson/db', false],
      ['@keelson/trpc', true],
      ['./local.ts', false],
      ['fastify', false],
      ['@trpc/server', false],
    ]);
  });

  it('reports a domain package importing tRPC or the router, and an undeclared workspace package', async () => {
    const root = await workspace({
      'packages/orders/package.json': manifest('@keelson/orders', ['@keelson/db', '@keelson/trpc']),
      'packages/orders/src/index.ts':
        "import { TRPCError } from '@trpc/server';\nimport { appRouter } from '@keelson/trpc';\nimport { x } from '@keelson/db';\nimport { y } from '@keelson/errors';\n",
      'packages/db/package.json': manifest('@keelson/db'),
      'packages/errors/package.json': manifest('@keelson/errors'),
      'packages/trpc/package.json': manifest('@keelson/trpc'),
      'packages/client/package.json': manifest('@keelson/client', ['@keelson/trpc']),
      'packages/client/src/index.ts':
        "import type { AppRouter } from '@keelson/trpc';\nimport { appRouter } from '@keelson/trpc';\n",
    });
    const problems = check(root);
    expect(problems).toEqual([
      expect.stringMatching(/^packages\/client\/src\/index.ts:2: @keelson\/client must not import @keelson\/trpc/),
      expect.stringMatching(/^packages\/orders\/src\/index.ts:1: @keelson\/orders must not import @trpc\/server/),
      expect.stringMatching(/^packages\/orders\/src\/index.ts:2: @keelson\/orders must not import @keelson\/trpc/),
      expect.stringMatching(
        /^packages\/orders\/src\/index.ts:4: imports @keelson\/errors, which @keelson\/orders's package.json does not declare/,
      ),
    ]);
  });

  it('keeps the database layer’s tests on the database helpers, and those helpers below the API', async () => {
    const root = await workspace({
      'packages/db/package.json': manifest('@keelson/db', ['@keelson/testing']),
      'packages/db/src/index.ts': 'export const x = 1;\n',
      'packages/db/test/a.test.ts':
        "import { sql } from '@keelson/testing/database';\nimport { startTestApi } from '@keelson/testing';\n",
      'packages/testing/package.json': manifest('@keelson/testing', ['@keelson/db', '@keelson/api']),
      'packages/testing/src/database.ts':
        "import { createOrm } from '@keelson/db';\nimport { buildApp } from '@keelson/api';\n",
      'packages/testing/src/index.ts': "import { buildApp } from '@keelson/api';\n",
      'packages/api/package.json': manifest('@keelson/api'),
    });
    expect(check(root)).toEqual([
      expect.stringMatching(/^packages\/db\/test\/a.test.ts:2: @keelson\/db must not import @keelson\/testing:/),
      expect.stringMatching(/^packages\/testing\/src\/database.ts:2: @keelson\/testing must not import @keelson\/api:/),
    ]);
  });
});
