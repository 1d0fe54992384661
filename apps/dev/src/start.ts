/**
 * `pnpm start`: the whole stack on one machine. With no DATABASE_URL it starts the embedded PostgreSQL
 * (data under `.data/`, kept between runs); either way it migrates and seeds, then runs the API and the
 * worker as two processes, exactly as production runs them (`pnpm start:api`, `pnpm start:worker`).
 * SIGTERM or Ctrl-C stops the API and worker first, then the database.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { loadConfig } from '@keelson/config';
import { repoRoot, resolveDatabase } from './database.ts';
import { migrateAndSeed } from './setup.ts';

const log = (line: string) => console.log(`[keelson] ${line}`);
const config = loadConfig();

const db = await resolveDatabase(config, log);
log(db.embedded ? `embedded PostgreSQL ready (data in ${db.dataDir})` : 'using DATABASE_URL');

try {
  await migrateAndSeed(db.url, config, log);
} catch (err) {
  await db.stop();
  throw err;
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
  log('stopping api and worker...');
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
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
process.on('SIGHUP', () => void stop(0));

startChild('api', 'apps/api/src/main.ts');
startChild('worker', 'apps/worker/src/main.ts');

// Announce the URL once the API answers its readiness probe.
const host = config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host;
const base = `http://${host}:${config.http.port}`;
for (let i = 0; i < 100 && !stopping; i++) {
  const ready = await fetch(`${base}/readyz`).then(
    (r) => r.ok,
    () => false,
  );
  if (ready) {
    log(`API ready: ${base}/trpc  (health: ${base}/healthz)`);
    break;
  }
  await new Promise((r) => setTimeout(r, 200));
}
