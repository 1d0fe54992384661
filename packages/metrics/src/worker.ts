/** The worker process's metrics (names and labels are the observability contract: see docs/observability.md, "Metrics"). */
import { Counter, Gauge, Histogram } from 'prom-client';
import { traceparentExemplar } from './exemplars.ts';
import { createProcessMetrics, type ProcessMetrics } from './registry.ts';

/** One row per task of `queueStatsQuery`. */
export interface QueueStats {
  task: string;
  queued: number;
  /** Seconds since the oldest queued job became due; 0 when none is queued. */
  oldestQueuedAgeSeconds: number;
  locked: number;
  failedPermanently: number;
}

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
export const QUEUE_STATS_SQL = `select task_identifier as task,
  count(*) filter (where locked_at is null and attempts < max_attempts and run_at <= now())::int as queued,
  coalesce(extract(epoch from now() - min(run_at) filter (
    where locked_at is null and attempts < max_attempts and run_at <= now())), 0)::float8 as oldest_queued_age_seconds,
  count(*) filter (where locked_at is not null)::int as locked,
  count(*) filter (where locked_at is null and attempts >= max_attempts)::int as failed_permanently
from graphile_worker.jobs
group by task_identifier`;

export interface WorkerMetricsOptions {
  /** Runs `QUEUE_STATS_SQL` and returns its rows (column names as in the SQL). */
  queryQueue: () => Promise<Record<string, unknown>[]>;
  /** Task identifiers reported as 0 when they have no job, so their series never vanish. */
  knownTasks: readonly string[];
  /** How long one queue query answers scrapes, so frequent scrapes don't load the database. Default 5 s. */
  queueCacheMs?: number;
  /** Told when the queue query fails; the queue gauges are then left out of that scrape. */
  onQueueError?: (err: unknown) => void;
  /** Default `Date.now`. */
  now?: () => number;
}

/** The part of a graphile-worker job the job metrics read. */
export interface JobInfo {
  task_identifier: string;
  payload: unknown;
}

export interface WorkerMetrics extends ProcessMetrics {
  jobStarted(job: JobInfo): void;
  /** Every attempt's end: `failure` for each failed attempt, retried or not. */
  jobFinished(job: JobInfo, outcome: 'success' | 'failure'): void;
  paymentFailed(): void;
}

function jobTraceparent(payload: unknown): string | undefined {
  const meta = (payload as { _meta?: { traceparent?: unknown } } | null)?._meta;
  return typeof meta?.traceparent === 'string' ? meta.traceparent : undefined;
}

export function createWorkerMetrics(opts: WorkerMetricsOptions): WorkerMetrics {
  const base = createProcessMetrics();
  const registers = [base.registry];
  const now = opts.now ?? Date.now;
  const completed = new Counter({
    name: 'keelson_jobs_completed_total',
    help: 'Job attempts that succeeded, by task',
    labelNames: ['task'] as const,
    registers,
  });
  const failed = new Counter({
    name: 'keelson_jobs_failed_total',
    help: 'Job attempts that failed (each attempt, including those that will be retried), by task',
    labelNames: ['task'] as const,
    registers,
  });
  const duration = new Histogram({
    name: 'keelson_job_duration_seconds',
    help: 'Time a job attempt ran in this worker, by task and outcome',
    labelNames: ['task', 'outcome'] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
    enableExemplars: true,
    registers,
  });
  const paymentsFailed = new Counter({
    name: 'keelson_payments_failed_total',
    help: 'Payments the provider declined (the order then fails and its stock is returned)',
    registers,
  });

  // One query answers the four gauges of a scrape, and every scrape for queueCacheMs.
  let cached: { at: number; rows: Promise<QueueStats[] | null> } | null = null;
  const cacheMs = opts.queueCacheMs ?? 5_000;
  const queueStats = (): Promise<QueueStats[] | null> => {
    if (cached && now() - cached.at < cacheMs) return cached.rows;
    const rows = opts.queryQueue().then(
      (raw) =>
        raw.map((r) => ({
          task: String(r.task),
          queued: Number(r.queued),
          oldestQueuedAgeSeconds: Number(r.oldest_queued_age_seconds),
          locked: Number(r.locked),
          failedPermanently: Number(r.failed_permanently),
        })),
      (err: unknown) => {
        opts.onQueueError?.(err);
        return null;
      },
    );
    cached = { at: now(), rows };
    return rows;
  };
  const queueGauge = (name: string, help: string, value: (s: QueueStats) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['task'] as const,
      registers,
      async collect() {
        const stats = await queueStats();
        this.reset();
        if (!stats) return;
        for (const task of opts.knownTasks) this.set({ task }, 0);
        for (const s of stats) this.set({ task: s.task }, value(s));
      },
    });
  queueGauge(
    'keelson_jobs_queued',
    'Jobs due and waiting for a worker (not locked, attempts left), by task',
    (s) => s.queued,
  );
  queueGauge(
    'keelson_jobs_oldest_queued_age_seconds',
    'Seconds since the longest-waiting queued job became due (0 when none waits), by task',
    (s) => s.oldestQueuedAgeSeconds,
  );
  queueGauge(
    'keelson_jobs_locked',
    'Jobs locked by a worker (running, or held by a dead one until swept), by task',
    (s) => s.locked,
  );
  queueGauge(
    'keelson_jobs_failed_permanently',
    'Jobs whose attempts are exhausted and that wait for an admin, by task',
    (s) => s.failedPermanently,
  );

  const started = new WeakMap<JobInfo, bigint>();
  return {
    ...base,
    jobStarted: (job) => void started.set(job, process.hrtime.bigint()),
    jobFinished: (job, outcome) => {
      const task = job.task_identifier;
      (outcome === 'success' ? completed : failed).inc({ task });
      const start = started.get(job);
      if (start === undefined) return;
      started.delete(job);
      duration.observe({
        labels: { task, outcome },
        value: Number(process.hrtime.bigint() - start) / 1e9,
        exemplarLabels: traceparentExemplar(jobTraceparent(job.payload)),
      });
    },
    paymentFailed: () => paymentsFailed.inc(),
  };
}
