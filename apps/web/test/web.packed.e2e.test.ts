/**
 * The web app takes nothing from Keelson but `@keelson/client`: its sources, copied out of the workspace
 * into the system's temp directory beside the *packed* client (installed with npm from the registry, the
 * other dependencies at the catalogue's versions), type-check and build there as they do here.
 */
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from '@keelson/testing';
import { runOutside as sh } from '@keelson/testing/outside';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const webDir = path.join(repoRoot, 'apps/web');

describe('the web app built from the packed @keelson/client, outside the workspace', () => {
  let scratch: string;

  beforeAll(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'keelson-web-packed-'));
    const packed = path.join(scratch, '.pack');
    await mkdir(packed);
    await sh('pnpm', ['pack', '--pack-destination', packed], { cwd: path.join(repoRoot, 'packages/client') });
    const [tarball] = await readdir(packed);

    const catalog = parse(await readFile(path.join(repoRoot, 'pnpm-workspace.yaml'), 'utf8')).catalog as Record<
      string,
      string
    >;
    const manifest = JSON.parse(await readFile(path.join(webDir, 'package.json'), 'utf8'));
    const versioned = (deps: Record<string, string>) =>
      Object.entries(deps)
        .filter(([name]) => !name.startsWith('@keelson/') && !['axe-core', 'playwright-core'].includes(name))
        .map(([name, v]) => `${name}@${v === 'catalog:' ? catalog[name] : v}`);
    for (const entry of ['src', 'index.html', 'vite.config.ts', 'tsconfig.json']) {
      await cp(path.join(webDir, entry), path.join(scratch, entry), { recursive: true });
    }
    await writeFile(
      path.join(scratch, 'package.json'),
      JSON.stringify({ name: 'keelson-web-outside', private: true, type: 'module' }),
    );
    await sh(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        '--ignore-scripts',
        '--cache',
        // A cache of this test's own: two npm installs filling one cold cache at once (this test and the
        // client's, in parallel) were seen to hang until killed.
        path.join(homedir(), '.cache/keelson/npm-web'),
        path.join(packed, tarball as string),
        ...versioned(manifest.dependencies),
        ...versioned(manifest.devDependencies),
        `@types/node@${catalog['@types/node']}`,
      ],
      { cwd: scratch, timeoutMs: 180_000 },
    );
  }, 240_000);

  afterAll(async () => {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('finds no Keelson package but the client', async () => {
    const installed = await readdir(path.join(scratch, 'node_modules/@keelson'));
    expect(installed).toEqual(['client']);
  });

  it('type-checks every page against the packed declarations', async () => {
    await sh(path.join(scratch, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: scratch });
  });

  it('builds with vite', async () => {
    await sh(process.execPath, [path.join(scratch, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], {
      cwd: scratch,
    });
    const assets = await readdir(path.join(scratch, 'dist/assets'));
    expect(assets.some((a) => /^index-.*\.js$/.test(a))).toBe(true);
  });
});
