/**
 * Start-up failures a user can fix, said in one line instead of a stack trace: a port already taken, a
 * database that cannot be reached. Anything else is a bug and keeps its stack.
 */
import net from 'node:net';

interface ErrorLike {
  code?: string;
  syscall?: string;
  port?: number;
  address?: string;
  hostname?: string;
  severity?: string;
  message?: string;
  cause?: unknown;
  errors?: unknown[];
}

/** The error and everything it wraps (MikroORM and pg wrap; `net` throws an AggregateError per address). */
function* chain(err: unknown, depth = 0): Generator<ErrorLike> {
  if (!err || typeof err !== 'object' || depth > 5) return;
  const e = err as ErrorLike;
  yield e;
  yield* chain(e.cause, depth + 1);
  for (const inner of e.errors ?? []) yield* chain(inner, depth + 1);
}

/** Failures of a socket to the database (only from `connect` or a host lookup, to its host and port). */
const NETWORK_PROBLEMS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'unknown host',
  EAI_AGAIN: 'host lookup failed',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};
/** What the PostgreSQL server itself answered (a pg DatabaseError, which carries a severity). */
const SERVER_PROBLEMS: Record<string, string> = {
  '28P01': 'password authentication failed',
  '28000': 'authentication refused',
  '3D000': 'the database does not exist',
  '57P03': 'the server is starting up or shutting down',
};
/** pg's own messages for a connection that never completed. */
const CONNECT_TIMEOUTS = new Set(['timeout expired', 'Connection terminated due to connection timeout']);

/** Whether a socket error was about this database's host and port (when it says which). */
function aboutDatabase(e: ErrorLike, url: URL): boolean {
  const port = Number(url.port || 5432);
  if (e.syscall === 'connect') return e.port === undefined || e.port === port;
  if (e.syscall === 'getaddrinfo') return e.hostname === undefined || e.hostname === url.hostname;
  return false;
}

function databaseProblem(e: ErrorLike, url: URL): string | undefined {
  if (e.code && NETWORK_PROBLEMS[e.code] && aboutDatabase(e, url)) return NETWORK_PROBLEMS[e.code];
  if (e.code && SERVER_PROBLEMS[e.code] && e.severity) return SERVER_PROBLEMS[e.code];
  if (e.message && CONNECT_TIMEOUTS.has(e.message)) return 'timed out';
  return undefined;
}

/** `host:port/database` of a PostgreSQL URL: never its user or password. */
export function describeDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname || 'localhost'}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return '(unparsable DATABASE_URL)';
  }
}

export interface StartupContext {
  /** Which variable moves which port, e.g. `{ 3000: 'PORT' }`. */
  ports?: Record<number, string>;
  databaseUrl?: string;
  /** Where the database URL came from, for the hint; default DATABASE_URL. */
  databaseSource?: string;
}

/** One line explaining `err` when the user can fix it by configuration; `undefined` otherwise. */
export function explainStartupError(err: unknown, ctx: StartupContext = {}): string | undefined {
  let url: URL | undefined;
  try {
    url = ctx.databaseUrl ? new URL(ctx.databaseUrl) : undefined;
  } catch {}
  for (const e of chain(err)) {
    // Only a refused `listen` is about a port: an EACCES of a file write is not.
    if ((e.code === 'EADDRINUSE' || e.code === 'EACCES') && e.syscall === 'listen') {
      const variable = e.port !== undefined ? ctx.ports?.[e.port] : undefined;
      const where = `${e.address ?? ''}:${e.port ?? '?'}`;
      const what = e.code === 'EADDRINUSE' ? 'is already in use (another copy running?)' : 'needs privileges';
      return `Port ${where} ${what}: stop what holds it${variable ? `, or set ${variable} to another port` : ''}.`;
    }
    const problem = url && databaseProblem(e, url);
    if (problem && ctx.databaseUrl) {
      const source = ctx.databaseSource ?? 'DATABASE_URL';
      return `Cannot reach PostgreSQL at ${describeDatabaseUrl(ctx.databaseUrl)} (${problem}): is the server running and reachable, and is ${source} right?`;
    }
  }
  return undefined;
}

/** The first of `ports` that cannot be listened on, as the error `listen` gave. */
export async function firstTakenPort(ports: { host: string; port: number }[]): Promise<Error | undefined> {
  for (const { host, port } of ports) {
    if (port === 0) continue;
    const error = await new Promise<Error | undefined>((resolve) => {
      const server = net.createServer();
      server.once('error', resolve);
      server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
    });
    if (error) return error;
  }
  return undefined;
}

/**
 * For a service's start-up: a failure the user can fix becomes one fatal log line and exit code 1;
 * anything else is logged with its stack, then the process exits the same way.
 */
export function failStartup(
  logger: { fatal(obj: unknown, msg?: string): void },
  ctx: StartupContext,
): (err: unknown) => never {
  return (err) => {
    const line = explainStartupError(err, ctx);
    if (line) logger.fatal({ problem: 'startup' }, line);
    else logger.fatal({ err }, 'start-up failed');
    process.exit(1);
  };
}
