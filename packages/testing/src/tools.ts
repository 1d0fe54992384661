/**
 * Tests that need a system binary, which `pnpm install` cannot bring: they run where it is on PATH and are
 * skipped where it is not, and `toolsReporter` counts them at the end of the run with what to install,
 * never silently. With KEELSON_REQUIRE_TOOLS=1 (CI, `.ci/run`) nothing is skipped: a missing binary fails
 * its tests, and the run.
 *
 * ```ts
 * describe('against a real Prometheus', needsTool('prometheus'), () => { … });
 * it('promtool accepts the rules', needsTool('promtool'), async () => { … });
 * ```
 */
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import type { TestOptions } from 'vitest';

/** Each tool Keelson's tests use, and the Debian package that installs it. */
export const TOOL_PACKAGES = {
  promtool: 'prometheus',
  prometheus: 'prometheus',
  amtool: 'prometheus-alertmanager',
  'prometheus-alertmanager': 'prometheus-alertmanager',
  chromium: 'chromium',
} as const;

export type Tool = keyof typeof TOOL_PACKAGES;

declare module 'vitest' {
  interface TaskMeta {
    /** The tools this test needs that were not on PATH when it was collected. */
    missingTools?: Tool[];
  }
}

/** Whether a missing tool fails its tests instead of skipping them (KEELSON_REQUIRE_TOOLS=1). */
export function toolsRequired(): boolean {
  return process.env.KEELSON_REQUIRE_TOOLS === '1';
}

/** Whether a run writes the README's screenshots (UPDATE_SCREENSHOTS=1, as `pnpm screenshots` sets it). */
export function updatingScreenshots(): boolean {
  return process.env.UPDATE_SCREENSHOTS === '1';
}

/**
 * The executable `name` that a child process spawned by name would run: the first in PATH's folders, as
 * the shell looks it up. Null when there is none.
 */
export function findTool(name: Tool): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      if (statSync(file).isFile()) return file;
    } catch {
      // Not in this folder.
    }
  }
  return null;
}

/**
 * Options for `describe` or `it` that need `tools`: none when all are on PATH; otherwise the test is
 * skipped (or, with KEELSON_REQUIRE_TOOLS=1, runs and fails) and marked for toolsReporter's count.
 */
export function needsTool(...tools: Tool[]): TestOptions {
  const missing = tools.filter((tool) => findTool(tool) === null);
  if (missing.length === 0) return {};
  return { skip: !toolsRequired(), meta: { missingTools: missing } };
}

/** The tools of TOOL_PACKAGES that are not on PATH: what `.ci/run` installs before the tests. */
export function missingTools(): Tool[] {
  return (Object.keys(TOOL_PACKAGES) as Tool[]).filter((tool) => findTool(tool) === null);
}

/** `apt-get install -y …` for these tools' packages, each package once. */
export function installCommand(tools: Iterable<Tool>): { packages: string[]; command: string } {
  const packages = [...new Set([...tools].map((tool) => TOOL_PACKAGES[tool]))].sort();
  return { packages, command: `apt-get install -y ${packages.join(' ')}` };
}
