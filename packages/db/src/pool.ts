/**
 * The one way Keelson opens a `pg.Pool` of its own (the worker's, its heartbeat's; the ORM builds its
 * pool itself from the same options, see orm.ts). Connections are lost in production (failovers,
 * restarts, idle timeouts of proxies): a pool made here survives that.
 */
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

/** Options shared with the ORM's pool: named, bounded waits, TCP keep-alive. */
export function pgPoolConfig(
  opts: Pick<PgPoolOptions, 'applicationName' | 'acquireTimeoutMs' | 'queryTimeoutMs'>,
): pg.PoolConfig {
  return {
    application_name: opts.applicationName,
    connectionTimeoutMillis: opts.acquireTimeoutMs,
    // A peer that vanished without a FIN or RST (a failed-over host, a NAT that forgot us) is noticed on
    // an idle connection within half a minute instead of the kernel's two hours.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    ...(opts.queryTimeoutMs ? { Client: clientWithDeadline(opts.queryTimeoutMs) } : {}),
  };
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
