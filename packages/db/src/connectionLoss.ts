/**
 * Telling "the database is not there right now" apart from a bug. A lost or refused connection, a server
 * shutting down or starting up, and a pool that could not hand out a connection in time are transient:
 * the API answers SERVICE_UNAVAILABLE with Retry-After instead of INTERNAL_SERVER_ERROR, and callers may
 * retry. MikroORM wraps driver errors, so the whole `cause` chain is examined.
 */

// SQLSTATE class 08 (connection exceptions; not 08P01, a protocol violation: a bug), 57P01–57P03 (the
// server terminated the session: pg_terminate_backend, a fast shutdown, a crash; or cannot accept
// connections yet) and 53300 (too many connections: a failover's reconnect storm).
const SQLSTATES = /^(08(000|001|003|004|006|007)|57P0[123]|53300)$/;
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);
// node-postgres and pg-pool report these without a code.
const MESSAGES =
  /^(Connection terminated( unexpectedly)?|Connection terminated due to connection timeout|Client has encountered a connection error and is not queryable|Client was closed and is not queryable|timeout exceeded when trying to connect|Cannot use a pool after calling end on the pool)$/;

export function isDatabaseUnavailable(error: unknown): boolean {
  // Socket errors count only as the error itself, which is how node-postgres rejects: one found as the
  // cause of something else (`fetch failed` → ECONNREFUSED) is another service's outage.
  const top = error as { code?: unknown } | null;
  if (typeof top?.code === 'string' && SOCKET_CODES.has(top.code)) return true;
  const seen = new Set<unknown>();
  for (let e = error; e && typeof e === 'object' && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && SQLSTATES.test(code)) return true;
    if (typeof message === 'string' && MESSAGES.test(message)) return true;
  }
  return false;
}
