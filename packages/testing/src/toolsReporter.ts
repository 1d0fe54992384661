/**
 * A Vitest reporter that ends the run with the tests `needsTool` skipped for a missing system binary:
 * how many, which files, and the command that installs what they need. Under KEELSON_REQUIRE_TOOLS=1
 * those tests ran and failed by themselves; this reporter says why and fails the run whatever they did.
 * Listed after the default reporter (vitest.config.ts), so its lines come after the summary.
 */
import { styleText } from 'node:util';
import type { Reporter, TestModule, Vitest } from 'vitest/node';
import { installCommand, type Tool, toolsRequired } from './tools.ts';

export default class ToolsReporter implements Reporter {
  private vitest: Vitest | undefined;

  onInit(vitest: Vitest): void {
    this.vitest = vitest;
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const required = toolsRequired();
    const byFile = new Map<string, number>();
    const tools = new Set<Tool>();
    let count = 0;
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const missing = test.meta().missingTools;
        if (!missing?.length) continue;
        // Required, they were meant to run (a failed beforeAll reports them skipped, yet counts: the
        // missing tool failed it); otherwise needsTool skipped them.
        const meantToRun = test.options.mode === 'run' || test.options.mode === 'only';
        if (meantToRun !== required) continue;
        count++;
        for (const tool of missing) tools.add(tool);
        byFile.set(module.relativeModuleId, (byFile.get(module.relativeModuleId) ?? 0) + 1);
      }
    }
    if (count === 0) return;
    const { packages, command } = installCommand(tools);
    const tests = `${count} ${count === 1 ? 'test' : 'tests'}`;
    const lines = [
      required
        ? `${tests} failed for want of ${[...tools].join(', ')} (KEELSON_REQUIRE_TOOLS=1): install ${packages.join(' ')} (${command})`
        : `${tests} skipped: install ${packages.join(' ')} (${command})`,
      `  not on PATH: ${[...tools].join(', ')}`,
      ...[...byFile].map(([file, n]) => `  ${file}: ${n}`),
      required ? '' : '  KEELSON_REQUIRE_TOOLS=1 (as in CI) runs them anyway and fails them.',
    ].filter(Boolean);
    const print = () => {
      const log = (line: string) => (this.vitest ? this.vitest.logger.log(line) : console.log(line));
      log('');
      log(styleText(['bold', required ? 'red' : 'yellow'], lines[0]!));
      for (const line of lines.slice(1)) log(styleText(required ? 'red' : 'yellow', line));
    };
    // The other reporters' last lines (the JSON report's path) come out while this runs: a `vitest run`
    // prints the notice as it exits (stdout is synchronous on Linux), so that nothing follows it.
    if (this.vitest?.config.watch) print();
    else process.once('exit', print);
    if (required) process.exitCode = 1;
  }
}
