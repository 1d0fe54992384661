/**
 * Task contracts: one per background task, shared by the code that enqueues it (API, domain packages)
 * and the worker that runs it.
 *
 * Glossary
 * - identifier: `entity__action`, graphile-worker's task name.
 * - payload: JSON validated by `payload` both when enqueued and when run (rows written by older code
 *   outlive it, so the worker never trusts the type alone).
 * - jobKey: de-duplicates queued jobs; with `replace`, a newer job with the same key replaces one that
 *   has not started yet.
 * - `_meta`: a reserved payload key for what travels with any job rather than belonging to its task
 *   (the W3C `traceparent` of the request that enqueued it). Every contract accepts it and strips it, so
 *   a task's handler never sees it; the worker reads it with `readJobMeta`.
 */
import { z } from 'zod';

/** The reserved payload key; no contract may declare a field of this name. */
export const JOB_META_KEY = '_meta';

/** W3C Trace Context `traceparent`, version 00: trace id, parent span id, flags. */
export const traceparentSchema = z
  .string()
  .regex(/^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/, 'expected a W3C traceparent like 00-<32 hex>-<16 hex>-01');

export const jobMetaSchema = z.object({ traceparent: traceparentSchema.optional() });
export type JobMeta = z.infer<typeof jobMetaSchema>;

/** The payload without `_meta`, whatever the contract's schema does with unknown keys (a strict object too). */
export function withoutMeta(raw: unknown): unknown {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || !(JOB_META_KEY in raw)) return raw;
  const { [JOB_META_KEY]: _meta, ...rest } = raw as Record<string, unknown>;
  return rest;
}

/**
 * The `_meta` a job row carries, or nothing when it has none. A malformed one is dropped rather than
 * failing the job: it only ever serves tracing.
 */
export function readJobMeta(raw: unknown): JobMeta {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return {};
  const parsed = jobMetaSchema.safeParse((raw as Record<string, unknown>)[JOB_META_KEY]);
  return parsed.success ? parsed.data : {};
}

export interface TaskContract<S extends z.ZodType = z.ZodType> {
  identifier: string;
  payload: S;
  /** Attempts before the job is failed permanently. Default: 25 (graphile-worker's). */
  maxAttempts?: number;
  /** Named queue: jobs in one queue run one at a time, in order. Default: none (parallel). */
  queue?: string;
  /** Lower runs first. Default: 0. */
  priority?: number;
  /** Key derived from the payload, so duplicates collapse. Default: none. */
  jobKey?: (payload: z.infer<S>) => string;
  /** What a second job with the same key does. Default: `replace`. */
  jobKeyMode?: 'replace' | 'preserve_run_at' | 'unsafe_dedupe';
}

/** A contract whose payload schema first drops `_meta`, so every task accepts a job that carries one. */
function taskContract<const I extends string, S extends z.ZodType>(
  contract: TaskContract<S> & { identifier: I },
): TaskContract<z.ZodPipe<z.ZodTransform<unknown, unknown>, S>> & { identifier: I } {
  return { ...contract, payload: z.preprocess(withoutMeta, contract.payload) } as TaskContract<
    z.ZodPipe<z.ZodTransform<unknown, unknown>, S>
  > & { identifier: I };
}

/** What graphile-worker's cron adds to the payload of a scheduled run. */
const cronMeta = z.object({ ts: z.iso.datetime({ offset: true }), backfilled: z.boolean().optional() }).optional();

export const tasks = {
  /**
   * Recomputes a product's `view_count` from its `product_viewed` events. Idempotent (it recounts), so
   * retries are safe and a burst of views collapses into one queued job per product.
   */
  catalog__refresh_view_count: taskContract({
    identifier: 'catalog__refresh_view_count',
    payload: z.object({ productId: z.uuid() }),
    maxAttempts: 10,
    jobKey: (p) => `catalog__refresh_view_count:${p.productId}`,
    jobKeyMode: 'replace',
  }),
  /**
   * Emails a link that verifies `email` for the user (a new account, or a change of address). The
   * worker makes the token, so no live token ever sits in a job row.
   */
  email__verify_address: taskContract({
    identifier: 'email__verify_address',
    payload: z.object({ userId: z.uuid(), email: z.email() }),
    maxAttempts: 10,
  }),
  /**
   * Tells the owner of an address that someone tried to sign up with it (and how to log in or reset the
   * password if it was them): what a sign-up of a taken address does instead of saying so to the caller.
   * At most a few an hour per account (the worker checks, where no response can time it).
   */
  email__account_exists: taskContract({
    identifier: 'email__account_exists',
    payload: z.object({ userId: z.uuid() }),
    maxAttempts: 10,
  }),
  /**
   * Emails a password-reset link (token made by the worker, valid one hour, single use) when the
   * address has an account; the request's answer never depends on that.
   */
  email__password_reset: taskContract({
    identifier: 'email__password_reset',
    payload: z.object({ email: z.email() }),
    maxAttempts: 10,
  }),
  /**
   * Takes an order's payment: authorize then capture, each with an idempotency key derived from the
   * order. Transient provider failures throw, so graphile-worker retries with exponential back-off
   * (about 3 s, 7 s, 20 s, ... 2 h: some 3.6 h in all); a decline fails the order and returns its
   * stock once. An order still pending after PAYMENT_TIMEOUT_HOURS is failed by `payment__expire_pending`.
   */
  payment__capture: taskContract({
    identifier: 'payment__capture',
    payload: z.object({ orderId: z.uuid() }),
    maxAttempts: 10,
  }),
  /**
   * Gives back what a cancelled, failed or refunded order took: refunds its capture, or voids its
   * authorization. Once, whatever the retries (provider idempotency keys, recorded ids).
   */
  payment__refund: taskContract({
    identifier: 'payment__refund',
    payload: z.object({ orderId: z.uuid() }),
    maxAttempts: 15,
  }),
  /** Hourly (cron): fails orders whose payment has not completed within PAYMENT_TIMEOUT_HOURS, returning their stock. */
  payment__expire_pending: taskContract({
    identifier: 'payment__expire_pending',
    payload: z.object({ _cron: cronMeta }),
    maxAttempts: 3,
  }),
  /** Tells the customer their order was paid (confirmation), shipped, or that its payment failed. */
  email__order_status: taskContract({
    identifier: 'email__order_status',
    payload: z.object({ orderId: z.uuid(), status: z.enum(['paid', 'shipped', 'payment_failed']) }),
    maxAttempts: 10,
  }),
  /**
   * Tells a customer that support replied and the reply is still unread, by email and in their inbox,
   * CHAT_EMAIL_AFTER_MS after the first unread reply. Every staff reply enqueues it under the
   * conversation's key, keeping the first run time: a burst of replies is one job, and one email per
   * burst whatever the retries (keyed by the burst's first message). Read meanwhile: nothing is sent.
   */
  chat__email_unread: taskContract({
    identifier: 'chat__email_unread',
    payload: z.object({ conversationId: z.uuid() }),
    maxAttempts: 10,
    jobKey: (p) => `chat__email_unread:${p.conversationId}`,
    jobKeyMode: 'preserve_run_at',
  }),
  /** Daily (cron): deletes checkout idempotency keys past their retention (CHECKOUT_KEY_TTL_HOURS). */
  checkout__purge_keys: taskContract({
    identifier: 'checkout__purge_keys',
    payload: z.object({ _cron: cronMeta }),
    maxAttempts: 3,
  }),
  /**
   * Writes a sales report's CSV into `report_chunk` (streamed: a server-side cursor read in batches)
   * and marks it ready, all in one transaction, so a retry starts from scratch and never sees half a
   * file. After the last attempt the report is marked `failed` with the error.
   */
  report__generate_sales: taskContract({
    identifier: 'report__generate_sales',
    payload: z.object({ reportId: z.uuid() }),
    maxAttempts: 5,
  }),
  /**
   * Daily (cron): a sales report, grouped by product, of the UTC day before the cron's timestamp
   * (so a backfilled run reports the day it was scheduled for, not yesterday). It creates the report
   * and enqueues `report__generate_sales` in one transaction.
   */
  report__daily_sales: taskContract({
    identifier: 'report__daily_sales',
    payload: z.object({ _cron: cronMeta }),
    maxAttempts: 3,
  }),
  /**
   * Hourly (cron): rebuilds the analytics roll-ups of the hour that just ended (from `_cron.ts`), the
   * two before it, and every hour that received late events since. Idempotent (each hour is deleted and
   * re-inserted). Enqueued by hand with `{ from, to }` (ISO times), it re-rolls every hour in between:
   * the way back after an outage longer than the backfill.
   */
  analytics__rollup: taskContract({
    identifier: 'analytics__rollup',
    payload: z
      .object({
        _cron: cronMeta,
        from: z.iso.datetime({ offset: true }).optional(),
        to: z.iso.datetime({ offset: true }).optional(),
      })
      // A manual run names both ends, at most 31 days apart (it is one transaction).
      .refine((p) => (p.from === undefined) === (p.to === undefined), 'give both from and to, or neither')
      .refine(
        (p) =>
          !p.from ||
          !p.to ||
          (Date.parse(p.from) < Date.parse(p.to) && Date.parse(p.to) - Date.parse(p.from) <= 31 * 86_400_000),
        'from must be before to, at most 31 days apart',
      ),
    maxAttempts: 5,
    // One run at a time, in order; the roll-up also takes an advisory lock.
    queue: 'analytics__rollup',
  }),
  /**
   * Hourly (cron): deletes realtime events older than EVENTS_RETENTION_HOURS, in bounded batches, and
   * records how far it went, so a client resuming from an older cursor is told (EVENTS_EXPIRED) instead
   * of silently missing events. Idempotent.
   */
  events__prune: taskContract({
    identifier: 'events__prune',
    payload: z.object({ _cron: cronMeta }),
    maxAttempts: 3,
  }),
  /** Daily (cron): deletes expired sessions, old emailed tokens and stale throttle counters. */
  auth__cleanup: taskContract({
    identifier: 'auth__cleanup',
    // graphile-worker's cron adds `_cron` ({ ts, backfilled }) to the payload.
    payload: z.object({ _cron: cronMeta }),
    maxAttempts: 3,
  }),
} as const;

/** Recurring tasks, in graphile-worker's crontab syntax (UTC). */
export const crontab = [
  '0 3 * * * auth__cleanup ?fill=1d&max=1',
  // Missed runs are made up once (a day's backlog is one run's work).
  '30 3 * * * checkout__purge_keys ?fill=1d&max=1',
  // Not backfilled: one run catches up on every stale order, whenever it runs.
  '15 * * * * payment__expire_pending',
  // Backfilled for 3 days: each missed run reports its own day (the day comes from the cron timestamp),
  // so a worker down over a weekend still leaves one report per day.
  '10 0 * * * report__daily_sales ?fill=3d',
  // Five minutes past each hour, so events sent at the end of the hour are in. Backfilled for a day:
  // each missed run rolls up its own hours (and every run re-rolls hours that received late events);
  // after a longer outage, enqueue analytics__rollup with { from, to } by hand.
  '5 * * * * analytics__rollup ?fill=1d',
  // Not backfilled: one run deletes everything past the retention, whenever it runs.
  '45 * * * * events__prune',
].join('\n');

export type Tasks = typeof tasks;
export type TaskName = keyof Tasks;
export type TaskPayload<N extends TaskName> = z.infer<Tasks[N]['payload']>;
export type TaskPayloads = { [N in TaskName]: TaskPayload<N> };

declare global {
  namespace GraphileWorker {
    // Typed `addJob` and task handlers in graphile-worker's own API.
    interface Tasks extends TaskPayloads {}
  }
}
