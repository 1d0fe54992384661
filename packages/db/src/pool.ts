/**
 * The one way Keelson opens a `pg.Pool` of its own (the worker's, its heartbeat's; the ORM builds its
 * pool itself from the same options, see orm.ts). Connections are lost in production (failovers,
 * restarts, idle timeouts of proxies): a pool made here survives that.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';

export interface PgPoolOptions {
  url: string;
  max: number;
  /** Seen in `pg_stat_activity`, so an operator knows whose connection it is. */
  applicationName: string;
  /** How long `connect()` waits for a free or new connection before it fails, milliseconds. */
  acquireTimeoutMs: number;
  /** Past this, a query's connection is destroyed and the query fails (see `clientWithDeadline`). Default: none. */
  queryTimeoutMs?: number;
  /** Queries with bind parameters as named prepared statements (see `clientWithPreparedStatements`). Default: true. */
  preparedStatements?: boolean;
  /** Server-side limit per statement, milliseconds. Default: none. */
  statementTimeoutMs?: number;
  /** Where a connection's failure is reported; the query that was running rejects by itself. */
  onError: (err: Error, where: 'idle' | 'in use') => void;
}

type Query = (this: pg.Client, ...args: unknown[]) => unknown;

/**
 * A client class whose every query has a deadline: past it, the connection is destroyed, so the query
 * (and anything queued behind it) fails and the pool drops the client. A silent peer (a failed-over
 * host, a frozen server or proxy that keeps the TCP connection open) would otherwise hold the query, its
 * caller and the pool's slot forever: keep-alive probes only idle connections, and the kernel retries
 * unacknowledged data for a quarter of an hour. `statement_timeout` cannot help: it runs on the server.
 */
export function clientWithDeadline(ms: number): typeof pg.Client {
  class DeadlineClient extends pg.Client {}
  const query = pg.Client.prototype.query as unknown as Query;
  (DeadlineClient.prototype as unknown as { query: Query }).query = function (this: pg.Client, ...args: unknown[]) {
    const timer = setTimeout(() => {
      // node-postgres has no public way to drop a connection whose peer went silent: end() waits for it.
      const { connection } = this as unknown as { connection?: { stream?: { destroy(err: Error): void } } };
      const error = Object.assign(new Error(`no answer from the database within ${ms} ms`), { code: 'ETIMEDOUT' });
      connection?.stream?.destroy(error);
    }, ms);
    timer.unref();
    const last = args.at(-1);
    if (typeof last === 'function') {
      // The callback form (pg-pool's pool.query uses it).
      args[args.length - 1] = (...result: unknown[]) => {
        clearTimeout(timer);
        return (last as (...a: unknown[]) => unknown)(...result);
      };
      return query.apply(this, args);
    }
    const result = query.apply(this, args);
    if (result instanceof Promise) return result.finally(() => clearTimeout(timer));
    // A submittable (a cursor): it reports through its own events; no deadline for it.
    clearTimeout(timer);
    return result;
  };
  return DeadlineClient;
}

/** Statement names by text, for `clientWithPreparedStatements`: hashing a text once, not per call. */
const statementNames = new Map<string, string>();
const MAX_NAMED_TEXTS = 5_000;

/** The server-side name of a statement's text: the same text, the same name, on every connection. */
function statementName(text: string): string | null {
  let name = statementNames.get(text);
  if (name) return name;
  // Bounded: a text that varies without end (a list of any length) is left unnamed past the cap.
  if (statementNames.size >= MAX_NAMED_TEXTS) return null;
  name = `k_${createHash('sha1').update(text).digest('base64url')}`;
  statementNames.set(text, name);
  return name;
}

/**
 * A client class that sends every query with bind parameters as a named prepared statement: the server
 * parses it once per connection and, after a few runs, reuses its plan, instead of parsing and planning
 * it on every call. Values are never in the text (Kysely binds them), so one text is one statement.
 * Queries without parameters (MikroORM's own, `begin`, `select 1`) and cursors are sent as before.
 */
export function clientWithPreparedStatements(base: typeof pg.Client): typeof pg.Client {
  class PreparingClient extends base {}
  (PreparingClient.prototype as unknown as { query: Query }).query = function (this: pg.Client, ...args: unknown[]) {
    // Looked up per call, as `super.query` would be: whatever wraps the base class's query still runs.
    const query = base.prototype.query as unknown as Query;
    const [text, values, ...rest] = args;
    if (typeof text === 'string' && Array.isArray(values) && values.length > 0 && typeof rest[0] !== 'function') {
      const name = statementName(text);
      if (name) return query.call(this, { name, text, values });
    }
    return query.apply(this, args);
  };
  return PreparingClient;
}

/** Options shared with the ORM's pool: named, bounded waits, TCP keep-alive. */
export function pgPoolConfig(
  opts: Pick<PgPoolOptions, 'applicationName' | 'acquireTimeoutMs' | 'queryTimeoutMs' | 'preparedStatements'>,
): pg.PoolConfig {
  const config: pg.PoolConfig = {
    application_name: opts.applicationName,
    connectionTimeoutMillis: opts.acquireTimeoutMs,
    // A peer that vanished without a FIN or RST (a failed-over host, a NAT that forgot us) is noticed on
    // an idle connection within half a minute instead of the kernel's two hours.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  };
  const client = opts.queryTimeoutMs ? clientWithDeadline(opts.queryTimeoutMs) : pg.Client;
  return { ...config, Client: opts.preparedStatements === false ? client : clientWithPreparedStatements(client) };
}

export function createPgPool(opts: PgPoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.max,
    ...pgPoolConfig(opts),
    ...(opts.statementTimeoutMs ? { statement_timeout: opts.statementTimeoutMs } : {}),
  });
  // An `error` event without a listener ends the process. pg-pool listens on idle clients itself (and
  // re-emits on the pool), but leaves a checked-out client's errors to whoever holds it: every client
  // gets a listener of its own. Either way pg-pool discards the broken client on release.
  pool.on('error', (err) => opts.onError(err, 'idle'));
  pool.on('connect', (client) => client.on('error', (err) => opts.onError(err, 'in use')));
  return pool;
}

/**
 * Resolves true once no connection of the pool is checked out and nobody waits for one, false after
 * `ms`: a stopping process closes its pool only after the requests or jobs using it are done with it.
 */
export async function poolSettled(
  pool: Pick<pg.Pool, 'totalCount' | 'idleCount' | 'waitingCount'>,
  ms: number,
): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (pool.totalCount - pool.idleCount > 0 || pool.waitingCount > 0) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}
