/**
 * The job queue's health per task, for the metrics of the API and the worker (both report it, so a dead
 * worker shows as a growing queue).
 */
import type { Database } from '@keelson/db';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { tasks } from './contracts.ts';

/**
 * Every scrape-time queue gauge from one grouped pass over graphile-worker's `jobs` view.
 *
 * - queued: runnable now and waiting for a worker: not locked, attempts left, `run_at` reached. Jobs due
 *   later (scheduled, or backing off before a retry) are not queued: they are not late, and counting
 *   them would make the oldest-queued age of a healthy queue grow with every future-dated job.
 * - oldest queued age: from the job's `run_at` (when it became due), so a retried job measures its
 *   wait since its back-off ended, not since it was first created.
 * - locked: taken by a worker (running, or held by a worker that died until its lock is swept).
 * - failed permanently: attempts exhausted and not running (graphile-worker counts an attempt when it
 *   takes the job, so a job on its last attempt is locked, not failed); they stay until an admin acts.
 */
const QUEUE_STATS_SQL = `select task_identifier as task,
  count(*) filter (where locked_at is null and attempts < max_attempts and run_at <= now())::int as queued,
  coalesce(extract(epoch from now() - min(run_at) filter (
    where locked_at is null and attempts < max_attempts and run_at <= now())), 0)::float8 as oldest_queued_age_seconds,
  count(*) filter (where locked_at is not null)::int as locked,
  count(*) filter (where locked_at is null and attempts >= max_attempts)::int as failed_permanently
from graphile_worker.jobs
group by task_identifier`;

/** The tasks of the contracts: each is reported, at 0 when it has no job, so its series never vanish. */
export const taskNames: readonly string[] = Object.keys(tasks);

export interface TaskQueueStats {
  task: string;
  queued: number;
  oldestQueuedAgeSeconds: number;
  locked: number;
  failedPermanently: number;
}

export async function readQueueStats(em: EntityManager): Promise<TaskQueueStats[]> {
  // A constant with no parameters: raw SQL text by design, never user input.
  const { rows } = await sql
    .raw<{
      task: string;
      queued: number;
      oldest_queued_age_seconds: number;
      locked: number;
      failed_permanently: number;
    }>(QUEUE_STATS_SQL)
    .execute(em.getKysely<Database>());
  return rows.map((r) => ({
    task: r.task,
    queued: Number(r.queued),
    oldestQueuedAgeSeconds: Number(r.oldest_queued_age_seconds),
    locked: Number(r.locked),
    failedPermanently: Number(r.failed_permanently),
  }));
}
