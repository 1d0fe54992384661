/**
 * Crash recovery. graphile-worker frees the jobs of a worker that died mid-job (SIGKILL, OOM, lost host)
 * only after four hours. Each worker process instead upserts a `worker_heartbeat` row per graphile-worker
 * pool id it runs (the `locked_by` of its jobs) every interval, and every process sweeps at the same pace:
 * jobs locked by an id whose heartbeat is older than `deadAfterMs` (or that never had one and has held its
 * jobs that long) are unlocked with graphile-worker's own `force_unlock_workers`, so they run again at once.
 *
 * A live worker can orphan a job too: when the answer to graphile-worker's `get_job` is lost with its
 * connection after the lock committed, the job stays locked by this very process, which never runs it.
 * Each round also unlocks jobs locked by its own ids that it does not hold, once they are that old.
 */
import { hostname } from 'node:os';
import { createPgPool, type Database, WORKER_SCHEMA } from '@keelson/db';
import { Kysely, PostgresDialect, sql } from 'kysely';
import type { Logger } from 'pino';

export interface HeartbeatDeps {
  databaseUrl: string;
  logger: Logger;
  /** WORKER_HEARTBEAT_INTERVAL_MS */
  intervalMs: number;
  /** WORKER_DEAD_AFTER_MS */
  deadAfterMs: number;
  /** DATABASE_PREPARED_STATEMENTS. Default: true. */
  preparedStatements?: boolean;
  /** Ids of the jobs this process holds: running, or just finished and being released. Default: none. */
  heldJobs?: () => Iterable<string>;
}

export interface ReleasedJob {
  id: string;
  task: string;
  lockedBy: string;
  lockedAt: Date;
}

export interface Heartbeat {
  /** Covers another graphile-worker pool id of this process (beats for it at once). */
  add(workerId: string): void;
  /** Beats and sweeps now, then every interval. */
  start(): void;
  /** Records that this process is alive. */
  beat(): Promise<void>;
  /** Releases the jobs of dead workers and forgets them; returns what was released. */
  sweep(): Promise<ReleasedJob[]>;
  /** Stops beating and deletes this process's rows: its jobs are finished or failed by then. */
  stop(): Promise<void>;
}

// Id lists travel as one JSON parameter.
const IDS = (ids: Iterable<string>) => sql`array(select jsonb_array_elements_text(${JSON.stringify([...ids])}::jsonb))`;
const olderThan = (ms: number) => sql<Date>`now() - ${ms} * interval '1 millisecond'`;
// graphile-worker's view and table (not entities of ours), in the configured schema.
const JOBS = sql.table(`${WORKER_SCHEMA}.jobs`);
const PRIVATE_JOBS = sql.table(`${WORKER_SCHEMA}._private_jobs`);

export function createHeartbeat(deps: HeartbeatDeps): Heartbeat {
  const { logger } = deps;
  // A pool of its own, not the jobs' connections: if long jobs held every pooled connection, the beat
  // would wait, and another worker would declare this live one dead and run its jobs a second time.
  // Its timeouts keep a hung database from stalling a round past one interval; a broken round fails,
  // is logged, and the next one retries.
  const pool = createPgPool({
    url: deps.databaseUrl,
    max: 2,
    applicationName: 'keelson-worker-heartbeat',
    acquireTimeoutMs: deps.intervalMs,
    statementTimeoutMs: deps.intervalMs,
    queryTimeoutMs: deps.intervalMs,
    preparedStatements: deps.preparedStatements,
    onError: (err, where) => logger.warn({ err, where }, 'heartbeat database connection failed'),
  });
  // Typed SQL on that pool, with bind parameters.
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const ids = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();

  const beat = async () => {
    if (!ids.size) return;
    await sql`insert into worker_heartbeat (worker_id, hostname, pid, started_at, beat_at)
      select id, ${hostname()}, ${process.pid}, now(), now() from unnest(${IDS(ids)}) as id
      on conflict (worker_id) do update set beat_at = now()`.execute(db);
    // Jobs locked by our own ids that we do not hold. No function of graphile-worker unlocks single jobs
    // (reschedule_jobs refuses locked ones), hence its table.
    const { rows: orphaned } = await sql<{ id: string; lockedBy: string }>`
      update ${PRIVATE_JOBS} set locked_at = null, locked_by = null
      where locked_by = any(${IDS(ids)}) and locked_at < ${olderThan(deps.deadAfterMs)}
        and id::text <> all(${IDS(deps.heldJobs?.() ?? [])})
      returning id::text, locked_by as "lockedBy"`.execute(db);
    if (orphaned.length) {
      logger.warn({ jobs: orphaned }, `released ${orphaned.length} job(s) this worker had locked without running them`);
    }
  };

  const sweep = (): Promise<ReleasedJob[]> => db.transaction().execute(sweepIn);

  const sweepIn = async (trx: Kysely<Database>): Promise<ReleasedJob[]> => {
    // One sweeper at a time across all processes, so released jobs are logged once; the others skip.
    const {
      rows: [lock],
    } = await sql<{ locked: boolean }>`
      select pg_try_advisory_xact_lock(hashtext('keelson:worker_heartbeat_sweep')) as locked`.execute(trx);
    if (!lock?.locked) return [];
    // Dead: a stale heartbeat, or jobs held that long by an id with no heartbeat at all (a process that
    // died before its first beat, or one from before heartbeats existed). Our own ids are never dead to us.
    const { rows } = await sql<{ worker_id: string }>`
      select worker_id from worker_heartbeat
        where beat_at < ${olderThan(deps.deadAfterMs)} and worker_id <> all(${IDS(ids)})
      union
      select distinct j.locked_by from ${JOBS} j
        where j.locked_by is not null and j.locked_at < ${olderThan(deps.deadAfterMs)}
          and j.locked_by <> all(${IDS(ids)})
          and not exists (select 1 from worker_heartbeat h where h.worker_id = j.locked_by)`.execute(trx);
    const dead = rows.map((r) => r.worker_id);
    if (!dead.length) return [];
    const { rows: released } = await sql<ReleasedJob>`
      select id::text, task_identifier as task, locked_by as "lockedBy", locked_at as "lockedAt"
      from ${JOBS} where locked_by = any(${IDS(dead)}) order by id`.execute(trx);
    await sql`select ${sql.id(WORKER_SCHEMA, 'force_unlock_workers')}(${IDS(dead)})`.execute(trx);
    // Only rows still stale: a worker that beat again meanwhile is alive after all.
    await trx
      .deleteFrom('worker_heartbeat')
      .where('worker_id', 'in', dead)
      .where('beat_at', '<', olderThan(deps.deadAfterMs))
      .execute();
    if (released.length) {
      logger.warn(
        { deadWorkers: dead, jobs: released.map((j) => ({ id: j.id, task: j.task, lockedBy: j.lockedBy })) },
        `released ${released.length} job(s) locked by dead worker(s)`,
      );
    } else {
      logger.info({ deadWorkers: dead }, 'forgot dead worker(s) holding no jobs');
    }
    return released;
  };

  // Never two rounds at once; a failed round (database briefly away) is logged and the next one retries.
  const round = () => {
    running = running
      .then(beat)
      .then(sweep)
      .catch((err: unknown) => logger.warn({ err }, 'worker heartbeat failed'));
    return running;
  };

  return {
    add(workerId) {
      ids.add(workerId);
      if (timer) void round();
    },
    start() {
      void round();
      timer = setInterval(round, deps.intervalMs);
      timer.unref();
    },
    beat,
    sweep,
    async stop() {
      clearInterval(timer);
      timer = undefined;
      await running;
      if (ids.size) {
        await db
          .deleteFrom('worker_heartbeat')
          .where('worker_id', 'in', [...ids])
          .execute()
          .catch((err: unknown) => logger.warn({ err }, 'could not delete the worker heartbeat'));
      }
      // Ends the pool too.
      await db.destroy();
    },
  };
}
