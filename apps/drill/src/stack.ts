/**
 * What a drill runs against: a scratch database (on a server it is given, or on one of its own that it
 * can stop and start), and the API and worker as real processes, started exactly as `pnpm start:api` and
 * `pnpm start:worker` start them.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres } from '@keelson/db/embedded';
import { createTemplateDatabase } from '@keelson/db/testing';
import { freePort, type RunningProcess, startProcess } from '@keelson/testing/processes';

import pg from 'pg';

export { freePort };

export type Log = (line: string) => void;

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One statement on a connection of its own (set-up, faults and checks: never the drilled path). */
export async function query<R extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

export interface DrillDatabase {
  name: string;
  url: string;
  /** E.g. `PostgreSQL 15.19`. */
  server: string;
  drop(): Promise<void>;
}

/** A fresh, migrated database named for the drill, so that one left behind by a killed run is recognisable. */
export async function createDrillDatabase(adminUrl: string): Promise<DrillDatabase> {
  const db = await createTemplateDatabase(adminUrl, 'keelson_drill');
  const [row] = await query<{ version: string }>(db.url, 'select version()');
  return { ...db, server: row?.version.split(' on ')[0]?.split(' (')[0] ?? 'PostgreSQL' };
}

/** A PostgreSQL server of the drill's own, which it may stop (a fast shutdown, as in a failover) and start. */
export interface DrillServer {
  adminUrl: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

/** The packaged PostgreSQL, or with `binDir` another installation's (`/usr/lib/postgresql/15/bin`). */
export async function startDrillServer(opts: { binDir?: string; log: Log }): Promise<DrillServer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'keelson-drill-pg-'));
  // As root, PostgreSQL runs as the `postgres` user, which must be able to enter the folder.
  await chmod(dir, 0o755);
  const port = await freePort();
  const open = () =>
    startEmbeddedPostgres({ dir: path.join(dir, 'data'), port, persistent: true, binDir: opts.binDir });
  let server: Awaited<ReturnType<typeof open>> | null = await open();
  return {
    adminUrl: server.adminUrl,
    async stop() {
      await server?.stop();
      server = null;
    },
    async start() {
      server ??= await open();
    },
    async destroy() {
      await server?.stop();
      server = null;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface StackProcess {
  name: string;
  /** `http://127.0.0.1:<port>`: the API itself, or the worker's health and metrics server. */
  baseUrl: string;
  /** Where its `/metrics` is: the API's listener of its own, the worker's health server. */
  metricsUrl: string;
  process: RunningProcess;
  /** Null while it runs. */
  exit(): { code: number | null; signal: NodeJS.Signals | null } | null;
}

const TELEMETRY = import.meta.resolve('@keelson/telemetry/register');

function track(name: string, urls: { baseUrl: string; metricsUrl: string }, process: RunningProcess): StackProcess {
  let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  process.child.once('exit', (code, signal) => {
    exited = { code, signal };
  });
  return { name, ...urls, process, exit: () => exited };
}

export interface StackOptions {
  databaseUrl: string;
  mailDir: string;
  /** Extra environment for both processes. */
  env?: Record<string, string>;
}

/** The API (`pnpm start:api`) on `port`, once it listens. */
export async function startApi(opts: StackOptions & { port: number; name?: string }): Promise<StackProcess> {
  const proc = startProcess(
    'apps/api/src/main.ts',
    {
      NODE_ENV: 'development',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      PORT: String(opts.port),
      METRICS_PORT: '0',
      DATABASE_URL: opts.databaseUrl,
      MAIL_DIR: opts.mailDir,
      ...opts.env,
    },
    { nodeArgs: ['--import', TELEMETRY] },
  );
  const [, metricsUrl] = (await proc.waitFor(/"metricsAddress":"([^"]+)","msg":"api listening"/, 30_000)) as string[];
  return track(
    opts.name ?? 'api',
    { baseUrl: `http://127.0.0.1:${opts.port}`, metricsUrl: metricsUrl as string },
    proc,
  );
}

/** The worker (`pnpm start:worker`), once it takes jobs; its `/readyz` and `/metrics` on `port`. */
export async function startWorker(opts: StackOptions & { port: number }): Promise<StackProcess> {
  const proc = startProcess(
    'apps/worker/src/main.ts',
    {
      NODE_ENV: 'development',
      LOG_LEVEL: 'info',
      DATABASE_URL: opts.databaseUrl,
      MAIL_DIR: opts.mailDir,
      WORKER_HTTP_HOST: '127.0.0.1',
      WORKER_HTTP_PORT: String(opts.port),
      WORKER_POLL_INTERVAL_MS: '500',
      ...opts.env,
    },
    { nodeArgs: ['--import', TELEMETRY] },
  );
  await proc.waitFor(/Worker connected and looking for jobs/, 30_000);
  const baseUrl = `http://127.0.0.1:${opts.port}`;
  return track('worker', { baseUrl, metricsUrl: baseUrl }, proc);
}

/** A folder for the mail the worker writes (MAIL_DIR), removed with the drill. */
export async function mailFolder(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'keelson-drill-mail-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Terminates every connection to the database but the caller's own, as a failover or an operator would. */
export async function killConnections(adminUrl: string, database: string): Promise<number> {
  const rows = await query<{ killed: boolean }>(
    adminUrl,
    `select pg_terminate_backend(pid) as killed from pg_stat_activity
      where datname = $1 and pid <> pg_backend_pid() and backend_type = 'client backend'`,
    [database],
  );
  return rows.filter((r) => r.killed).length;
}
