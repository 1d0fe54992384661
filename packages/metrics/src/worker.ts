/** The worker process's metrics (names and labels are the observability contract: see docs/observability.md, "Metrics"). */
import { Counter, Histogram } from 'prom-client';
import { traceparentExemplar } from './exemplars.ts';
import { type QueueGaugeOptions, queueGauges } from './queue.ts';
import { createProcessMetrics, type ProcessMetrics } from './registry.ts';

export interface WorkerMetricsOptions {
  /** The queue gauges' source: see `QueueGaugeOptions`. */
  queue: QueueGaugeOptions;
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

  queueGauges(registers, opts.queue);

  // Every task's series from the start (see ApiMetrics.declareProcedures): a cron task that runs once an
  // hour, or a payment capture's first failure, is otherwise invisible to rate() and increase().
  for (const task of opts.queue.knownTasks) {
    completed.inc({ task }, 0);
    failed.inc({ task }, 0);
    for (const outcome of ['success', 'failure']) duration.zero({ task, outcome });
  }

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
