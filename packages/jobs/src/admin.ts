/**
 * Job administration for operators (the `jobs` tRPC router): list, count, retry and cancel jobs through
 * graphile-worker's public interface (its `jobs` view and admin functions), never by editing its rows.
 *
 * Glossary
 * - failed: attempts used up (`attempts >= max_attempts`) and not running: it will not run again unless
 *   retried. Cancelled jobs are failed jobs whose `last_error` says who cancelled them.
 * - locked: a worker holds it (running, or its worker died and the heartbeat sweep has not freed it yet).
 * - queued: every other job: waiting for its `run_at`, or for a retry after back-off.
 */
import { type Database, WORKER_SCHEMA } from '@keelson/db';
import { AppError } from '@keelson/errors';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { z } from 'zod';
import { withoutMeta } from './contracts.ts';

export const jobStates = ['failed', 'locked', 'queued'] as const;
export type JobState = (typeof jobStates)[number];

// Job ids are bigint; they travel as decimal strings (JavaScript numbers lose precision past 2^53).
const jobId = z
  .string()
  .regex(/^[1-9][0-9]{0,18}$/, 'expected a job id')
  .refine((s) => BigInt(s) <= 9_223_372_036_854_775_807n, 'expected a job id');

export const listJobsInput = z.object({
  state: z.enum(jobStates),
  task: z.string().min(1).max(200).optional(),
  /** The last id of the previous page: newest first. */
  cursor: jobId.nullish(),
  limit: z.number().int().min(1).max(100).default(20),
});
export type ListJobsInput = z.input<typeof listJobsInput>;

export const jobIdInput = z.object({ id: jobId });

export const jobDto = z.object({
  id: z.string(),
  task: z.string(),
  queue: z.string().nullable(),
  state: z.enum(jobStates),
  attempts: z.number().int(),
  maxAttempts: z.number().int(),
  lastError: z.string().nullable(),
  runAt: z.date(),
  lockedAt: z.date().nullable(),
  lockedBy: z.string().nullable(),
  createdAt: z.date(),
  key: z.string().nullable(),
  /** The job's payload without the reserved `_meta`. */
  payload: z.unknown(),
});
export type JobDto = z.infer<typeof jobDto>;

export const jobPage = z.object({ items: z.array(jobDto), nextCursor: z.string().nullable() });
export type JobPage = z.infer<typeof jobPage>;

export const jobCount = z.object({ task: z.string(), state: z.enum(jobStates), count: z.number().int() });
export type JobCount = z.infer<typeof jobCount>;

/**
 * SQL in `em`'s transaction when it has one. graphile-worker's tables and functions are no entities:
 * they are reached through `sql` templates only.
 */
const kysely = (em: EntityManager) => em.getKysely<Database>();

/** A relation or function of graphile-worker's schema (WORKER_SCHEMA, a constant: never user input). */
const worker = (name: string) => sql.id(WORKER_SCHEMA, name);

const STATE = sql<JobState>`case
    when j.locked_at is not null then 'locked'
    when j.attempts >= j.max_attempts then 'failed'
    else 'queued' end`;

// The public view leaves payloads out; they are read (never written) from the private table by id.
const SELECT_JOBS = sql`select j.id::text, j.task_identifier as task, j.queue_name as queue, ${STATE} as state,
    j.attempts, j.max_attempts, j.last_error, j.run_at, j.locked_at, j.locked_by, j.created_at, j.key,
    p.payload
  from ${worker('jobs')} j join ${worker('_private_jobs')} p on p.id = j.id`;

/** A row of SELECT_JOBS; timestamps arrive as text from MikroORM's connection (`new Date` reads either). */
interface JobRow {
  id: string;
  task: string;
  queue: string | null;
  state: JobState;
  attempts: number;
  max_attempts: number;
  last_error: string | null;
  run_at: string | Date;
  locked_at: string | Date | null;
  locked_by: string | null;
  created_at: string | Date;
  key: string | null;
  payload: unknown;
}

const toDto = (r: JobRow): JobDto => ({
  id: r.id,
  task: r.task,
  queue: r.queue,
  state: r.state,
  attempts: r.attempts,
  maxAttempts: r.max_attempts,
  lastError: r.last_error,
  runAt: new Date(r.run_at),
  lockedAt: r.locked_at ? new Date(r.locked_at) : null,
  lockedBy: r.locked_by,
  createdAt: new Date(r.created_at),
  key: r.key,
  // In JS, not SQL: a hand-added payload may not be valid jsonb.
  payload: withoutMeta(r.payload),
});

/** Jobs in one state, newest first, a page at a time. */
export async function listJobs(em: EntityManager, rawInput: ListJobsInput): Promise<JobPage> {
  const input = listJobsInput.parse(rawInput);
  const { rows } = await sql<JobRow>`${SELECT_JOBS}
    where ${STATE} = ${input.state}
      ${input.task !== undefined ? sql`and j.task_identifier = ${input.task}` : sql``}
      ${input.cursor ? sql`and j.id < ${input.cursor}::bigint` : sql``}
    order by j.id desc limit ${input.limit + 1}`.execute(kysely(em));
  const items = rows.slice(0, input.limit).map(toDto);
  return { items, nextCursor: rows.length > input.limit ? (items.at(-1)?.id ?? null) : null };
}

/** How many jobs each task has in each state (states without jobs are left out). */
export async function countJobs(em: EntityManager): Promise<JobCount[]> {
  const { rows } = await sql<{ task: string; state: JobState; count: string }>`
    select j.task_identifier as task, ${STATE} as state, count(*)::text as count
    from ${worker('jobs')} j group by 1, 2 order by 1, 2`.execute(kysely(em));
  return rows.map((r) => ({ task: r.task, state: r.state, count: Number(r.count) }));
}

async function readJob(em: EntityManager, id: string): Promise<JobDto | null> {
  const {
    rows: [row],
  } = await sql<JobRow>`${SELECT_JOBS} where j.id = ${id}::bigint`.execute(kysely(em));
  return row ? toDto(row) : null;
}

/** The job, if it exists and no worker holds it (retrying or cancelling a running job is refused). */
async function idleJob(em: EntityManager, id: string): Promise<JobDto> {
  const job = await readJob(em, id);
  if (!job) throw new AppError('JOB_NOT_FOUND', { details: { id } });
  if (job.state === 'locked') throw new AppError('JOB_RUNNING', { details: { id, lockedBy: job.lockedBy } });
  return job;
}

/**
 * Runs a failed or queued job again now, with its attempts reset (graphile-worker's `reschedule_jobs`).
 * Its last error stays visible until the next attempt ends.
 */
export async function retryJob(em: EntityManager, id: string): Promise<JobDto> {
  const before = await idleJob(em, id);
  // reschedule_jobs skips locked jobs: a worker that took it meanwhile leaves nothing updated.
  const { rows: updated } = await sql<{ id: string }>`
    select id::text from ${worker('reschedule_jobs')}(array[${id}::bigint], run_at => now(), attempts => 0)`.execute(
    kysely(em),
  );
  if (!updated.length) throw new AppError('JOB_RUNNING', { details: { id } });
  // Retried: a worker may already hold it (locked) or even have finished it (gone), which is success too.
  return (await readJob(em, id)) ?? { ...before, state: 'queued', attempts: 0, runAt: new Date() };
}

/**
 * Cancels a job for good: it is failed permanently (graphile-worker's `permanently_fail_jobs`: attempts
 * set to max_attempts) with a `last_error` naming who cancelled it, rather than deleted, so what was
 * cancelled stays visible with the failed jobs (and could still be retried on purpose).
 */
export async function cancelJob(em: EntityManager, input: { id: string; actorId: string }): Promise<JobDto> {
  const before = await idleJob(em, input.id);
  // A failed job keeps the cause of its failure after the note of who cancelled it.
  const reason = `Cancelled by an administrator (user ${input.actorId})${before.lastError ? `; last error: ${before.lastError}` : ''}`;
  const { rows: updated } = await sql<{ id: string }>`
    select id::text from ${worker('permanently_fail_jobs')}(array[${input.id}::bigint], ${reason})`.execute(kysely(em));
  if (!updated.length) throw new AppError('JOB_RUNNING', { details: { id: input.id } });
  return (await readJob(em, input.id)) ?? { ...before, state: 'failed', lastError: reason };
}
