/**
 * needsTool and toolsReporter in a real `vitest run` of a fixture file, with a PATH of our own: tools
 * missing, the run passes and ends with the counted notice; tools there, tests run and no notice; with
 * KEELSON_REQUIRE_TOOLS=1, missing tools fail the run.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { findTool, installCommand, needsTool } from '../src/tools.ts';

const fixtures = path.join(import.meta.dirname, 'fixtures/tools');
const vitestBin = path.join(path.dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');

/** The fixture run: its exit code, and its stdout (failures go to stderr; the notice, last, to stdout). */
function runFixture(env: Record<string, string>): Promise<{ code: number; output: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [vitestBin, 'run', '--config', path.join(fixtures, 'vitest.config.ts')],
      // Only what the run needs: no KEELSON_REQUIRE_TOOLS from CI unless given.
      { env: { HOME: homedir(), FORCE_COLOR: '0', ...env }, timeout: 60_000 },
      (err, stdout, stderr) =>
        resolve({
          code: err ? ((err as { code?: number }).code ?? 1) : 0,
          output: stripVTControlCharacters(stdout),
          stderr: stripVTControlCharacters(stderr),
        }),
    );
  });
}

describe('needsTool', () => {
  let empty: string;
  let withTools: string;
  beforeAll(async () => {
    empty = await mkdtemp(path.join(tmpdir(), 'keelson-path-empty-'));
    withTools = await mkdtemp(path.join(tmpdir(), 'keelson-path-tools-'));
    for (const tool of ['promtool', 'chromium', 'amtool']) {
      await writeFile(path.join(withTools, tool), '#!/bin/sh\nexit 0\n');
      await chmod(path.join(withTools, tool), 0o755);
    }
    // A file that is not executable is no tool.
    await writeFile(path.join(empty, 'promtool'), '');
  });
  afterAll(async () => {
    await rm(empty, { recursive: true, force: true });
    await rm(withTools, { recursive: true, force: true });
  });

  it('looks tools up in PATH as a spawn would, and names their Debian packages', () => {
    try {
      vi.stubEnv('PATH', `${empty}${path.delimiter}${withTools}`);
      vi.stubEnv('KEELSON_REQUIRE_TOOLS', '');
      // The non-executable promtool in `empty` comes first and is passed over.
      expect(findTool('promtool')).toBe(path.join(withTools, 'promtool'));
      expect(findTool('prometheus')).toBeNull();
      expect(needsTool('promtool', 'chromium')).toEqual({});
      expect(needsTool('promtool', 'prometheus')).toEqual({ skip: true, meta: { missingTools: ['prometheus'] } });
      vi.stubEnv('KEELSON_REQUIRE_TOOLS', '1');
      expect(needsTool('prometheus')).toEqual({ skip: false, meta: { missingTools: ['prometheus'] } });
    } finally {
      vi.unstubAllEnvs();
    }
    expect(installCommand(['promtool', 'prometheus', 'amtool'])).toEqual({
      packages: ['prometheus', 'prometheus-alertmanager'],
      command: 'apt-get install -y prometheus prometheus-alertmanager',
    });
  });

  it('skips what needs a missing tool, passes, and ends the run counting them with what to install', {
    timeout: 60_000,
  }, async () => {
    const { code, output } = await runFixture({ PATH: empty });
    expect(code, output).toBe(0);
    expect(output).toMatch(/Tests +1 passed \| 4 skipped \(5\)/);
    const tail = output.trimEnd().split('\n').slice(-4);
    expect(tail).toEqual([
      '4 tests skipped: install chromium prometheus prometheus-alertmanager (apt-get install -y chromium prometheus prometheus-alertmanager)',
      '  not on PATH: promtool, chromium, amtool',
      '  needs.fixture.ts: 4',
      '  KEELSON_REQUIRE_TOOLS=1 (as in CI) runs them anyway and fails them.',
    ]);
  });

  it('runs them, without a notice, where the tools are on PATH', { timeout: 60_000 }, async () => {
    const { code, output } = await runFixture({ PATH: withTools });
    expect(code, output).toBe(0);
    expect(output).toMatch(/Tests +5 passed \(5\)/);
    expect(output).not.toMatch(/skipped|install/);
  });

  it('fails the run under KEELSON_REQUIRE_TOOLS=1 when a tool is missing', { timeout: 60_000 }, async () => {
    const { code, output, stderr } = await runFixture({ PATH: empty, KEELSON_REQUIRE_TOOLS: '1' });
    expect(code).toBe(1);
    // They ran, and failed by themselves.
    expect(stderr).toMatch(/FAIL +needs\.fixture\.ts > finds chromium/);
    // The test behind the failed beforeAll is reported skipped, yet counted: the missing tool failed it.
    expect(output).toMatch(/Tests +3 failed \| 1 passed \| 1 skipped \(5\)/);
    expect(output.trimEnd().split('\n').at(-3)).toBe(
      '4 tests failed for want of promtool, chromium, amtool (KEELSON_REQUIRE_TOOLS=1): install chromium prometheus prometheus-alertmanager (apt-get install -y chromium prometheus prometheus-alertmanager)',
    );
  });
});
