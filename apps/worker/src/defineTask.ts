import { type MikroORM, WORKER_SCHEMA } from '@keelson/db';
import type { Mailer } from '@keelson/email';
import { readJobMeta, type TaskName, type TaskPayload, tasks } from '@keelson/jobs';
import type { WorkerMetrics } from '@keelson/metrics';
import type { PaymentProvider } from '@keelson/payments';
import type { EntityManager } from '@mikro-orm/postgresql';
import { propagation, ROOT_CONTEXT, type SpanContext, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { JobHelpers, Task } from 'graphile-worker';
import type { Logger } from 'pino';

export interface TaskDeps {
  orm: MikroORM;
  mailer: Mailer;
  payments: PaymentProvider;
  /** The worker's logger; each job logs through a child of it. */
  logger: Logger;
  /** Aborts when the worker fails its running jobs at shutdown (grace over, or a second signal). */
  interrupted?: AbortSignal;
  /** PAYMENT_TIMEOUT_HOURS, in milliseconds. */
  paymentTimeoutMs: number;
  /** Base of links in emails. */
  publicUrl: string;
  /** REPORT_CHUNK_BYTES and REPORT_FETCH_ROWS. */
  reports: { chunkBytes: number; fetchRows: number };
  /** EVENTS_RETENTION_HOURS, in milliseconds. */
  eventsRetentionMs: number;
  /** CHAT_EMAIL_AFTER_MS. */
  chatEmailAfterMs: number;
  /** Business counters (payments declined); absent when the worker runs without metrics. */
  metrics?: Pick<WorkerMetrics, 'paymentFailed'> | undefined;
}

export interface TaskContext {
  /** A fresh EntityManager for this job alone. */
  em: EntityManager;
  /** Log lines carry `jobId`, `task`, `attempt` and `maxAttempts` (and `traceparent` when the job has one). */
  logger: Logger;
  /** W3C traceparent of the operation that enqueued the job, from its payload's `_meta`; undefined without one. */
  traceparent: string | undefined;
  /**
   * Aborts when the worker's shutdown grace (WORKER_SHUTDOWN_GRACE_MS) runs out or a second signal
   * arrives: the job has then been failed and will be retried, so long work should stop at its next
   * safe point.
   */
  signal: AbortSignal;
  helpers: JobHelpers;
  deps: TaskDeps;
}

export type TaskHandler<N extends TaskName> = (payload: TaskPayload<N>, ctx: TaskContext) => Promise<void>;

/** Raised when a handler returns after its job was failed by an interrupted shutdown. */
export class JobInterruptedError extends Error {
  override name = 'JobInterruptedError';
}

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
/**
 * The span of each job recently run, by job id: graphile-worker logs a job's "Completed task" or
 * "Failed task" line after the task returns, outside its span, and the worker's log adapter puts these
 * ids on that line (`takeJobSpan`). Bounded: a job whose line never comes (a crash) falls out.
 */
const jobSpans = new Map<string, SpanContext>();
const JOB_SPANS_KEPT = 10_000;

function rememberJobSpan(jobId: string, context: SpanContext): void {
  if (!trace.isSpanContextValid(context)) return;
  jobSpans.set(jobId, context);
  if (jobSpans.size > JOB_SPANS_KEPT) jobSpans.delete(jobSpans.keys().next().value as string);
}

/** The trace and span ids of a job's last attempt, once (see `jobSpans`). */
export function takeJobSpan(jobId: string): { trace_id: string; span_id: string } | null {
  const context = jobSpans.get(jobId);
  if (!context) return null;
  jobSpans.delete(jobId);
  return { trace_id: context.traceId, span_id: context.spanId };
}

export function defineTask<N extends TaskName>(name: N, handler: TaskHandler<N>): (deps: TaskDeps) => Task<N> {
  const contract = tasks[name];
  const tracer = trace.getTracer('@keelson/worker');

  async function run(job: {
    deps: TaskDeps;
    rawPayload: unknown;
    helpers: JobHelpers;
    traceparent: string | undefined;
  }) {
    const { deps, rawPayload, helpers, traceparent } = job;
    const logger = deps.logger.child({
      jobId: helpers.job.id,
      task: name,
      attempt: helpers.job.attempts,
      maxAttempts: helpers.job.max_attempts,
      ...(traceparent ? { traceparent } : {}),
    });
    const parsed = contract.payload.safeParse(rawPayload);
    if (!parsed.success) {
      // graphile-worker has no public "fail permanently" for a running job (WorkerUtils'
      // permanentlyFailJobs skips locked jobs, and this one is ours, locked); its private table does.
      await helpers.query(`update ${WORKER_SCHEMA}._private_jobs set max_attempts = attempts where id = $1`, [
        helpers.job.id,
      ]);
      throw new InvalidPayloadError(`Invalid payload for ${name}: ${parsed.error.message}`);
    }
    const signals = [helpers.abortSignal, deps.interrupted].filter((s): s is AbortSignal => s !== undefined);
    await handler(parsed.data as TaskPayload<N>, {
      em: deps.orm.em.fork(),
      logger,
      traceparent,
      signal: AbortSignal.any(signals),
      helpers,
      deps,
    });
    // Completing would delete the job by id although it was failed and queued again (graphile-worker
    // completes by id alone); failing it is a no-op, as it is no longer locked by this worker.
    if (deps.interrupted?.aborted) {
      logger.warn('job finished after it was interrupted; it will run again');
      throw new JobInterruptedError('The worker was interrupted while this job ran; it will be retried');
    }
  }

  return (deps) => async (rawPayload, helpers) => {
    const { job } = helpers;
    const { traceparent } = readJobMeta(rawPayload);
    // A child of the span that enqueued the job, not a link: one trace then shows the request, its SQL,
    // the job, and the job's SQL and email, which is what a trace is asked ("what did this checkout
    // cause, and why was its email late?"). Every attempt is a child span of its own. A job without a
    // traceparent (cron, scripts) starts a trace.
    const parent = traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent }) : ROOT_CONTEXT;
    // The messaging conventions (a job queue is a message queue to tracing tools): operation `process`,
    // the task as the destination, the job id as the message id; `job.*` keeps the attempt figures.
    const attributes = {
      'messaging.system': 'graphile_worker',
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.destination.name': name,
      'messaging.message.id': job.id,
      'job.id': job.id,
      'job.task': name,
      'job.attempt': job.attempts,
      'job.max_attempts': job.max_attempts,
    };
    await tracer.startActiveSpan(`process ${name}`, { kind: SpanKind.CONSUMER, attributes }, parent, async (span) => {
      rememberJobSpan(job.id, span.spanContext());
      try {
        await run({ deps, rawPayload, helpers, traceparent });
      } catch (err) {
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        throw err;
      } finally {
        span.end();
      }
    });
  };
}
