/**
 * The readiness check the API and the worker both serve at `/readyz`. Ready means: every migration
 * (Keelson's and graphile-worker's) is applied, the database answers within a second, and the process's
 * own pool is making progress. It answers within `timeoutMs` whatever the database does: an orchestrator
 * that gets no answer learns nothing.
 */
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Pool } from 'pg';
import { schemaStatus } from './migrate.ts';
import { createPgPool } from './pool.ts';

export interface Readiness {
  ready: boolean;
  /** What `/readyz` answers: `{ status: 'ready' }`, or why not. */
  body: Record<string, unknown>;
  /** The error behind `database unreachable`, for the log. */
  error?: unknown;
}

export interface ReadinessProbe {
  check(): Promise<Readiness>;
  close(): Promise<void>;
}

export interface ReadinessOptions {
  /** The database the probe pings, on a connection of its own. */
  url: string;
  /** Longest a check takes, milliseconds. Default: 1 s. */
  timeoutMs?: number;
  /**
   * The ORM's pool is stuck when callers wait for a connection and none has been given back for this
   * long, milliseconds (its acquire timeout: a waiter could have given up with nothing released).
   */
  stuckAfterMs: number;
}

const timeout = (ms: number) =>
  new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref());

export function readinessProbe(orm: MikroORM, opts: ReadinessOptions): ReadinessProbe {
  const timeoutMs = opts.timeoutMs ?? 1_000;
  // Its own connection, not the ORM's pool: a busy pool must not read as a dead database, and a ping
  // queued behind forty requests would say nothing about the server.
  const probe = createPgPool({
    url: opts.url,
    max: 1,
    applicationName: 'keelson-readiness',
    acquireTimeoutMs: timeoutMs,
    statementTimeoutMs: timeoutMs,
    // A ping lost in a silent network drops its connection, so the next check starts afresh.
    queryTimeoutMs: timeoutMs,
    onError: () => {},
  });
  let migrated = false;
  let lastRelease = Date.now();
  let watching: Promise<Pool> | undefined;
  const watch = () => {
    watching ??= orm.em
      .getConnection()
      .getNativeClient()
      .then((pool) => {
        pool.on('release', () => {
          lastRelease = Date.now();
        });
        return pool as Pool;
      });
    // A failed attempt (the database down at start) is tried again by the next check.
    watching.catch(() => {
      watching = undefined;
    });
    return watching;
  };
  // From now on, not from the first check: a first check during a stall must not see a stale release.
  void watch().catch(() => {});

  const checkOnce = async (): Promise<Readiness> => {
    // Migrations are never unapplied: once seen complete, later checks only ping.
    if (!migrated) {
      const status = await schemaStatus(orm);
      if (status.pending.length || !status.workerSchema) {
        return {
          ready: false,
          body: { status: 'migrations pending', pending: status.pending, workerSchema: status.workerSchema },
        };
      }
      migrated = true;
    }
    await probe.query('select 1');
    const pool = await watch();
    const sinceRelease = Date.now() - lastRelease;
    if (pool.waitingCount > 0 && sinceRelease > opts.stuckAfterMs) {
      return {
        ready: false,
        body: {
          status: 'database pool stuck',
          inUse: pool.totalCount - pool.idleCount,
          waiting: pool.waitingCount,
          msSinceRelease: sinceRelease,
        },
      };
    }
    return { ready: true, body: { status: 'ready' } };
  };

  return {
    async check() {
      try {
        return await Promise.race([checkOnce(), timeout(timeoutMs)]);
      } catch (error) {
        return { ready: false, body: { status: 'database unreachable' }, error };
      }
    },
    close: () => probe.end(),
  };
}
