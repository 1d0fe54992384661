import { type Database, WORKER_SCHEMA } from '@keelson/db';
import type { EntityManager } from '@mikro-orm/postgresql';
import { context, propagation } from '@opentelemetry/api';
import { sql } from 'kysely';
import { JOB_META_KEY, type JobMeta, type TaskName, type TaskPayload, tasks, traceparentSchema } from './contracts.ts';

export interface EnqueueOptions {
  /** When to run; default now. */
  runAt?: Date;
  /** Overrides the contract's `maxAttempts`. */
  maxAttempts?: number;
  /** Overrides the contract's `priority`. */
  priority?: number;
  /** Overrides the contract's job key. */
  jobKey?: string;
  /**
   * W3C `traceparent` of the operation enqueueing the job, so the worker can continue its trace. Stored
   * in the payload's reserved `_meta`; must match `00-<32 hex>-<16 hex>-<2 hex>`. Default: the active
   * span's, when tracing is on and there is one.
   */
  traceparent?: string;
}

export interface EnqueuedJob {
  id: string;
}

/** SQL in `em`'s transaction when it has one (graphile-worker's functions are no entities: `sql` only). */
const kysely = (em: EntityManager) => em.getKysely<Database>();

/** graphile-worker's `add_job`, by its schema's name (WORKER_SCHEMA, a constant: never user input). */
const ADD_JOB = sql.id(WORKER_SCHEMA, 'add_job');

/** The current trace context as a `traceparent`; undefined without an active span (or without the SDK). */
function activeTraceparent(): string | undefined {
  const carrier: { traceparent?: string } = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent;
}

export class EnqueueOutsideTransactionError extends Error {
  override name = 'EnqueueOutsideTransactionError';
}

/**
 * Adds a job in the caller's transaction: it becomes visible to workers only when that transaction
 * commits, and vanishes with it on rollback, so a job never runs for a write that did not happen and
 * a write never misses its job. The payload is validated against the task's contract first.
 */
// biome-ignore lint/complexity/useMaxParams: mirrors graphile-worker's addJob(task, payload, spec), plus the transaction it joins.
export async function enqueue<N extends TaskName>(
  em: EntityManager,
  task: N,
  payload: TaskPayload<N>,
  options: EnqueueOptions = {},
): Promise<EnqueuedJob> {
  if (!em.isInTransaction()) {
    throw new EnqueueOutsideTransactionError(
      `enqueue('${task}') must run inside the transaction of the write that causes it (em.transactional).`,
    );
  }
  const contract = tasks[task];
  const valid = contract.payload.parse(payload);
  const jobKey = options.jobKey ?? (contract.jobKey ? (contract.jobKey as (p: unknown) => string)(valid) : null);
  const traceparent = options.traceparent ?? activeTraceparent();
  const meta: JobMeta = traceparent ? { traceparent: traceparentSchema.parse(traceparent) } : {};
  const payloadJson = JSON.stringify(Object.keys(meta).length ? { ...(valid as object), [JOB_META_KEY]: meta } : valid);
  const addJob = sql<{ id: string | null }>`select (${ADD_JOB}(
    identifier => ${contract.identifier}::text, payload => ${payloadJson}::json,
    queue_name => ${contract.queue ?? null}::text, run_at => ${options.runAt?.toISOString() ?? null}::timestamptz,
    max_attempts => ${options.maxAttempts ?? contract.maxAttempts ?? null}::smallint, job_key => ${jobKey}::text,
    priority => ${options.priority ?? contract.priority ?? null}::smallint,
    job_key_mode => ${jobKey ? (contract.jobKeyMode ?? 'replace') : null}::text)).id::text as id`;
  // add_job first releases the key from jobs already running, then upserts where the holder is not
  // running. A worker can lock the keyed job between those two steps; add_job then returns nothing and
  // the new job would be lost. Asking again sees the lock, moves the key, and inserts.
  for (let attempt = 1; attempt <= 3; attempt++) {
    // On `em`'s Kysely, so in the caller's transaction (checked above).
    const { rows } = await addJob.execute(kysely(em));
    const id = rows[0]?.id;
    if (id) return { id };
  }
  throw new Error(`${WORKER_SCHEMA}.add_job returned no job for '${task}' three times`);
}
