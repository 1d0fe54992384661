import './apps/dev/src/supportedNode.mjs';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['apps/*/test/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'observability/test/**/*.test.ts'],
    globalSetup: ['packages/testing/src/globalSetup.ts'],
    // Each file has its own database, so files run in parallel; tests inside a file run in order.
    pool: 'forks',
    // Two files at a time even on two cores (vitest's default there is one): most of a file's time is
    // spent waiting on PostgreSQL, Chromium or a child process, so two halve the run.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // toolsReporter last: it ends the run with the tests skipped for a missing system binary (needsTool).
    reporters: ['default', 'json', './packages/testing/src/toolsReporter.ts'],
    outputFile: { json: '.vitest-report.json' },
  },
});
