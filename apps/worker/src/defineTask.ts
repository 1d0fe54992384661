import type { MikroORM } from '@keelson/db';
import type { Mailer } from '@keelson/email';
import { type TaskName, type TaskPayload, tasks } from '@keelson/jobs';
import type { PaymentProvider } from '@keelson/payments';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { JobHelpers, Task } from 'graphile-worker';

export interface TaskDeps {
  orm: MikroORM;
  mailer: Mailer;
  payments: PaymentProvider;
  /** PAYMENT_TIMEOUT_HOURS, in milliseconds. */
  paymentTimeoutMs: number;
  /** Base of links in emails. */
  publicUrl: string;
  /** REPORT_CHUNK_BYTES and REPORT_FETCH_ROWS. */
  reports: { chunkBytes: number; fetchRows: number };
}

export interface TaskContext {
  /** A fresh EntityManager for this job alone. */
  em: EntityManager;
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
 * visible, with the validation message as `last_error`.
 */
export function defineTask<N extends TaskName>(name: N, handler: TaskHandler<N>): (deps: TaskDeps) => Task<N> {
  const contract = tasks[name];
  return (deps) => async (rawPayload, helpers) => {
    const parsed = contract.payload.safeParse(rawPayload);
    if (!parsed.success) {
      // graphile-worker has no public "fail permanently" for a running job; its private table does.
      await helpers.query('update graphile_worker._private_jobs set max_attempts = attempts where id = $1', [
        helpers.job.id,
      ]);
      throw new InvalidPayloadError(`Invalid payload for ${name}: ${parsed.error.message}`);
    }
    await handler(parsed.data as TaskPayload<N>, { em: deps.orm.em.fork() as EntityManager, helpers, deps });
  };
}
