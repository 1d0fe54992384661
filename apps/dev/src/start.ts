/**
 * `pnpm start`: the whole stack on one machine. With no DATABASE_URL it starts the embedded PostgreSQL
 * (data under `.data/`, kept between runs); either way it migrates and seeds, then runs the API and the
 * worker as two processes, exactly as production runs them (`pnpm start:api`, `pnpm start:worker`).
 * SIGTERM or Ctrl-C stops the API and worker first, then the database.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { loadConfig } from '@keelson/config';
import { EmbeddedStartError } from '@keelson/db/embedded';
import { explainStartupError, firstTakenPort } from '@keelson/runtime';
import { ensureWebBuild, webDist } from '@keelson/web/build';
import { repoRoot, resolveDatabase } from './database.ts';
import { migrateAndSeed } from './setup.ts';

const log = (line: string) => console.log(`[keelson] ${line}`);
const config = loadConfig();
/** What `pnpm start` listens on, and the variable that moves each. */
const listeners = [
  { ...config.http, variable: 'PORT' },
  { ...config.metrics, variable: 'METRICS_PORT' },
  { ...config.worker.http, variable: 'WORKER_HTTP_PORT' },
];
const failWith = (line: string): never => {
  console.error(`[keelson] ${line}`);
  process.exit(1);
};

// A signal while PostgreSQL starts or the schema migrates: that step finishes, then what started stops.
// (Dying at once would orphan the embedded server, which runs in a process group of its own.)
let interrupted = false;
const interrupt = () => {
  interrupted = true;
};
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
for (const signal of SIGNALS) process.on(signal, interrupt);
const stopIfInterrupted = async (started?: { stop(): Promise<void> }) => {
  if (!interrupted) return;
  await started?.stop();
  log('stopped');
  process.exit(0);
};

// Every port first, so a second `pnpm start` stops before starting anything rather than half-way.
const taken = await firstTakenPort(listeners);
if (taken) {
  const ports = Object.fromEntries(listeners.map((l) => [l.port, l.variable]));
  failWith(explainStartupError(taken, { ports }) ?? String(taken));
}

// The web app the API serves, built on first start and after its sources change (a WEB_DIR of one's own
// is one's own to build).
if (config.http.webDir && path.resolve(repoRoot, config.http.webDir) === webDist) {
  await ensureWebBuild({ log }).catch((err: unknown) =>
    failWith(`Building the web app failed: ${err instanceof Error ? err.message : String(err)}`),
  );
}

const db = await resolveDatabase(config, log).catch(async (err: unknown) => {
  await stopIfInterrupted(); // a Ctrl-C reaches initdb too, which then fails
  const line =
    explainStartupError(err, { databaseUrl: config.database.url ?? undefined }) ??
    (err instanceof EmbeddedStartError ? err.message : undefined);
  if (!line) throw err;
  return failWith(line);
});

await stopIfInterrupted(db);
try {
  await migrateAndSeed(db.url, config, log);
} catch (err) {
  await db.stop();
  await stopIfInterrupted();
  const line = explainStartupError(err, { databaseUrl: db.url });
  if (!line) throw err;
  failWith(line);
}

const TELEMETRY_REGISTER = import.meta.resolve('@keelson/telemetry/register');
const childEnv = { ...process.env, DATABASE_URL: db.url };
const children = new Map<string, ChildProcess>();
function startChild(name: string, entry: string): void {
  // A process group of its own: a Ctrl-C in the terminal reaches only this process, which then stops the
  // API and worker once each (not twice, which they would take as "exit now") and PostgreSQL last.
  // The same `--import` as `pnpm start:api` / `start:worker`: tracing, when OTEL_EXPORTER_OTLP_ENDPOINT is set.
  const child = spawn(process.execPath, ['--import', TELEMETRY_REGISTER, path.join(repoRoot, entry)], {
    env: childEnv,
    stdio: 'inherit',
    detached: true,
  });
  children.set(name, child);
  child.on('exit', (code, signal) => {
    children.delete(name);
    if (!stopping) {
      log(`${name} exited unexpectedly (${signal ?? code}); stopping everything`);
      void stop(1);
    }
  });
}

let stopping = false;
async function stop(exitCode: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  log('stopping the API and the worker...');
  const exited = [...children.values()].map(
    (child) =>
      new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve()))),
  );
  for (const child of children.values()) child.kill('SIGTERM');
  const killTimer = setTimeout(() => {
    for (const child of children.values()) child.kill('SIGKILL');
  }, config.shutdownTimeoutMs + 1000); // each child exits by itself within shutdownTimeoutMs
  await Promise.all(exited);
  clearTimeout(killTimer);
  if (db.embedded) log('stopping PostgreSQL...');
  await db.stop();
  log('stopped');
  process.exit(exitCode);
}
await stopIfInterrupted(db);
for (const signal of SIGNALS) {
  process.off(signal, interrupt);
  process.on(signal, () => void stop(0));
}

log('starting the API and the worker...');
startChild('api', 'apps/api/src/main.ts');
startChild('worker', 'apps/worker/src/main.ts');

// Announce the URL once the API answers its readiness probe (the ports were free, so it is ours).
const host = config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host;
const base = `http://${host}:${config.http.port}`;
const readyBy = Date.now() + 60_000;
let announced = false;
while (!stopping && !announced && Date.now() < readyBy) {
  announced = await fetch(`${base}/readyz`).then(
    (r) => r.ok,
    () => false,
  );
  if (!announced) await new Promise((r) => setTimeout(r, 200));
}
if (announced) {
  log(`API ready: ${base}/trpc  (health: ${base}/healthz)`);
  log(`Store: ${base}/  (admin console: ${base}/admin)`);
} else if (!stopping) log(`the API is not ready after 60 s: see its log above, or ${base}/readyz`);
