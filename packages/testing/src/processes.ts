import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';

export const repoRoot = path.resolve(import.meta.dirname, '../../..');

export interface RunningProcess extends AsyncDisposable {
  child: ChildProcess;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Resolves when it exits by itself. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when the output matches, rejects on exit or timeout. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /**
   * Sends a signal and resolves with the exit code and how long the exit took. With `group`, the signal
   * goes to the whole process group, as a terminal's Ctrl-C does (needs `detached` at start).
   */
  stop(
    signal?: NodeJS.Signals,
    opts?: { group?: boolean },
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

/**
 * Starts one of Keelson's entry points (`apps/worker/src/main.ts`, ...) as a real process with the
 * given environment on top of the inherited one (minus DATABASE_URL, so nothing leaks in by accident),
 * with METRICS_PORT 0 unless `env` sets it.
 */
export function startProcess(
  entry: string,
  env: Record<string, string>,
  opts: { detached?: boolean; args?: string[]; nodeArgs?: string[] } = {},
): RunningProcess {
  const { DATABASE_URL: _ignored, ...inherited } = process.env;
  const child = spawn(
    process.execPath,
    [...(opts.nodeArgs ?? []), path.resolve(repoRoot, entry), ...(opts.args ?? [])],
    {
      // Many API processes run at once in a test run: each takes a free metrics port unless told one.
      env: { ...inherited, METRICS_PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: opts.detached ?? false,
    },
  );
  let out = '';
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    out += chunk.toString();
    for (const w of waiters) w();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  // A test that times out never reaches its `await using` cleanup, and vitest then ends the test process:
  // the child must not outlive it (a `pnpm start` left running keeps its PostgreSQL, API and worker).
  // SIGTERM, not SIGKILL, so that it still stops what it started itself.
  const orphanGuard = () => {
    if (child.exitCode === null && child.signalCode === null && child.pid) {
      try {
        if (opts.detached) process.kill(-child.pid, 'SIGTERM');
        else child.kill('SIGTERM');
      } catch {}
    }
  };
  process.once('exit', orphanGuard);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      process.off('exit', orphanGuard);
      resolve({ code, signal });
    }),
  );

  const stop = async (signal: NodeJS.Signals = 'SIGTERM', o: { group?: boolean } = {}) => {
    const started = performance.now();
    if (child.exitCode === null && child.signalCode === null) {
      if (o.group && child.pid) process.kill(-child.pid, signal);
      else child.kill(signal);
    }
    const result = await exited;
    return { ...result, ms: performance.now() - started };
  };
  return {
    child,
    exited,
    output: () => out,
    waitFor(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = out.match(pattern);
          if (match) {
            done();
            resolve(match);
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`timed out waiting for ${pattern}; output:\n${out}`));
        }, timeoutMs);
        const onExit = () => {
          done();
          reject(new Error(`process exited while waiting for ${pattern}; output:\n${out}`));
        };
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
          child.off('exit', onExit);
        };
        waiters.add(check);
        child.once('exit', onExit);
        check();
      });
    },
    stop,
    [Symbol.asyncDispose]: async () => {
      await stop('SIGKILL');
    },
  };
}

/** Polls `fn` until it returns a truthy value or the time is up. */
export async function eventually<T>(fn: () => Promise<T>, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Whether a TCP port can be listened on at 127.0.0.1 right now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A TCP port free on loopback right now, for a process a test starts to listen on. Taken below Linux's
 * ephemeral range (32768–60999), which `listen(0)` would pick from: between this answer and the child's
 * own listen, any outgoing connection of the machine (a test's to PostgreSQL) may take an ephemeral
 * port as its local one, which once made `pnpm start` fail with "port already in use" in CI. Random, so
 * that test files running side by side do not pick the same one.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await canListen(port)) return port;
  }
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        address && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/**
 * The environment of a `pnpm start` of its own: an embedded PostgreSQL in `dir` and free ports for
 * everything it listens on, so that it runs beside other stacks (and a developer's own).
 */
export async function stackEnv(dir: string): Promise<Record<string, string>> {
  return {
    EMBEDDED_PG_DIR: path.join(dir, 'pg'),
    EMBEDDED_PG_PORT: String(await freePort()),
    PORT: String(await freePort()),
    METRICS_PORT: String(await freePort()),
    WORKER_HTTP_PORT: String(await freePort()),
    LOG_LEVEL: 'warn',
  };
}
