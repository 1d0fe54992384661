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
  /** Server-side limit per statement, milliseconds. Default: none. */
  statementTimeoutMs?: number;
  /** Where a connection's failure is reported; the query that was running rejects by itself. */
  onError: (err: Error, where: 'idle' | 'in use') => void;
}

/** Options shared with the ORM's pool: named, bounded waits, TCP keep-alive. */
export function pgPoolConfig(opts: Pick<PgPoolOptions, 'applicationName' | 'acquireTimeoutMs'>): pg.PoolConfig {
  return {
    application_name: opts.applicationName,
    connectionTimeoutMillis: opts.acquireTimeoutMs,
    // A peer that vanished without a FIN or RST (a failed-over host, a NAT that forgot us) is noticed
    // within a minute or so instead of the kernel's two hours.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
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
