import type { MikroORM } from '@keelson/db';
import type { Mailer } from '@keelson/email';
import { readJobMeta, type TaskName, type TaskPayload, tasks } from '@keelson/jobs';
import type { PaymentProvider } from '@keelson/payments';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { JobHelpers, Task } from 'graphile-worker';
import type { Logger } from 'pino';

export interface TaskDeps {
  orm: MikroORM;
  mailer: Mailer;
  payments: PaymentProvider;
  /** The worker's logger; each job logs through a child of it. */
  logger: Logger;
  /** PAYMENT_TIMEOUT_HOURS, in milliseconds. */
  paymentTimeoutMs: number;
  /** Base of links in emails. */
  publicUrl: string;
}

export interface TaskContext {
  /** A fresh EntityManager for this job alone. */
  em: EntityManager;
  /** Log lines carry `jobId`, `task`, `attempt` and `maxAttempts` (and `traceparent` when the job has one). */
  logger: Logger;
  /** W3C traceparent of the operation that enqueued the job, from its payload's `_meta`; undefined without one. */
  traceparent: string | undefined;
  /**
   * Aborts when the worker's shutdown grace (WORKER_SHUTDOWN_GRACE_MS) runs out: by then the job has been
   * failed and will be retried, so long work should stop at its next safe point.
   */
  signal: AbortSignal | undefined;
  helpers: JobHelpers;
  deps: TaskDeps;
}

export type TaskHandler<N extends TaskName> = (payload: TaskPayload<N>, ctx: TaskContext) => Promise<void>;

/** Raised for a payload its contract rejects; the job is failed permanently, never retried. */
export class InvalidPayloadError extends Error {
  override name = 'InvalidPayloadError';
}

/**
 * Wraps a handler so that its payload is validated against the task's contract before anything runs.
 * A job written by older code, or by hand, with a bad payload would fail the same way on every attempt,
 * so it is failed permanently at once (its `max_attempts` lowered to the attempts made) and stays
 * visible, with the validation message as `last_error`. The reserved `_meta` is read apart and never
 * reaches the handler.
 */
export function defineTask<N extends TaskName>(name: N, handler: TaskHandler<N>): (deps: TaskDeps) => Task<N> {
  const contract = tasks[name];
  return (deps) => async (rawPayload, helpers) => {
    const { job } = helpers;
    const { traceparent } = readJobMeta(rawPayload);
    const logger = deps.logger.child({
      jobId: job.id,
      task: name,
      attempt: job.attempts,
      maxAttempts: job.max_attempts,
      ...(traceparent ? { traceparent } : {}),
    });
    const parsed = contract.payload.safeParse(rawPayload);
    if (!parsed.success) {
      // graphile-worker has no public "fail permanently" for a running job; its private table does.
      await helpers.query('update graphile_worker._private_jobs set max_attempts = attempts where id = $1', [job.id]);
      throw new InvalidPayloadError(`Invalid payload for ${name}: ${parsed.error.message}`);
    }
    await handler(parsed.data as TaskPayload<N>, {
      em: deps.orm.em.fork() as EntityManager,
      logger,
      traceparent,
      signal: helpers.abortSignal,
      helpers,
      deps,
    });
  };
}
