/**
 * Crash recovery. graphile-worker frees the jobs of a worker that died mid-job (SIGKILL, OOM, lost host)
 * only after four hours. Each worker process instead upserts a `worker_heartbeat` row per graphile-worker
 * pool id it runs (the `locked_by` of its jobs) every interval, and every process sweeps at the same pace:
 * jobs locked by an id whose heartbeat is older than `deadAfterMs` (or that never had one and has held its
 * jobs that long) are unlocked with graphile-worker's own `force_unlock_workers`, so they run again at once.
 */
import { hostname } from 'node:os';
import { type MikroORM, WORKER_SCHEMA } from '@keelson/db';
import type { Logger } from 'pino';

export interface HeartbeatDeps {
  orm: MikroORM;
  logger: Logger;
  /** WORKER_HEARTBEAT_INTERVAL_MS */
  intervalMs: number;
  /** WORKER_DEAD_AFTER_MS */
  deadAfterMs: number;
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

// MikroORM expands an array parameter into one placeholder per element, so id lists travel as JSON.
const IDS = `array(select jsonb_array_elements_text(?::jsonb))`;
const json = (ids: Iterable<string>) => JSON.stringify([...ids]);

// One sweeper at a time across all processes, so released jobs are logged once; the others skip a round.
const SWEEP_LOCK = `select pg_try_advisory_xact_lock(hashtext('keelson:worker_heartbeat_sweep')) as locked`;

const BEAT = `insert into worker_heartbeat (worker_id, hostname, pid, started_at, beat_at)
  select id, ?, ?, now(), now() from unnest(${IDS}) as id
  on conflict (worker_id) do update set beat_at = now()`;

// Dead: a stale heartbeat, or jobs held that long by an id with no heartbeat at all (a process that died
// before its first beat, or one from before heartbeats existed). Our own ids are never dead to us.
const DEAD_WORKERS = `select worker_id from worker_heartbeat
    where beat_at < now() - ? * interval '1 millisecond' and worker_id <> all(${IDS})
  union
  select distinct j.locked_by from ${WORKER_SCHEMA}.jobs j
    where j.locked_by is not null and j.locked_at < now() - ? * interval '1 millisecond'
      and j.locked_by <> all(${IDS})
      and not exists (select 1 from worker_heartbeat h where h.worker_id = j.locked_by)`;

const LOCKED_JOBS = `select id::text, task_identifier as task, locked_by as "lockedBy", locked_at as "lockedAt"
  from ${WORKER_SCHEMA}.jobs where locked_by = any(${IDS}) order by id`;

export function createHeartbeat(deps: HeartbeatDeps): Heartbeat {
  const { orm, logger } = deps;
  const ids = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();

  const beat = async () => {
    if (!ids.size) return;
    await orm.em.getConnection().execute(BEAT, [hostname(), process.pid, json(ids)]);
  };

  const sweep = (): Promise<ReleasedJob[]> =>
    orm.em.fork().transactional(async (em) => {
      const conn = em.getConnection();
      const ctx = em.getTransactionContext();
      const [lock] = await conn.execute<{ locked: boolean }[]>(SWEEP_LOCK, [], 'all', ctx);
      if (!lock?.locked) return [];
      const own = [...ids];
      const dead = (
        await conn.execute<{ worker_id: string }[]>(
          DEAD_WORKERS,
          [deps.deadAfterMs, json(own), deps.deadAfterMs, json(own)],
          'all',
          ctx,
        )
      ).map((r) => r.worker_id);
      if (!dead.length) return [];
      const released = await conn.execute<ReleasedJob[]>(LOCKED_JOBS, [json(dead)], 'all', ctx);
      await conn.execute(`select ${WORKER_SCHEMA}.force_unlock_workers(${IDS})`, [json(dead)], 'all', ctx);
      // Only rows still stale: a worker that beat again meanwhile is alive after all.
      await conn.execute(
        `delete from worker_heartbeat where worker_id = any(${IDS}) and beat_at < now() - ? * interval '1 millisecond'`,
        [json(dead), deps.deadAfterMs],
        'all',
        ctx,
      );
      if (released.length) {
        logger.warn(
          { deadWorkers: dead, jobs: released.map((j) => ({ id: j.id, task: j.task, lockedBy: j.lockedBy })) },
          `released ${released.length} job(s) locked by dead worker(s)`,
        );
      } else {
        logger.info({ deadWorkers: dead }, 'forgot dead worker(s) holding no jobs');
      }
      return released;
    });

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
        await orm.em
          .getConnection()
          .execute(`delete from worker_heartbeat where worker_id = any(${IDS})`, [json(ids)])
          .catch((err: unknown) => logger.warn({ err }, 'could not delete the worker heartbeat'));
      }
    },
  };
}
