/**
 * `createWorker(deps)` builds the job runner without starting it; `main.ts` starts it and owns signals.
 */
import { EventEmitter } from 'node:events';
import { type Config, ConfigError } from '@keelson/config';
import { createPgPool, type MikroORM, WORKER_SCHEMA } from '@keelson/db';
import type { Mailer } from '@keelson/email';
import { crontab, type TaskName, tasks } from '@keelson/jobs';
import type { WorkerMetrics } from '@keelson/metrics';
import type { PaymentProvider } from '@keelson/payments';
import { createServices } from '@keelson/services';
import {
  Logger as GraphileLogger,
  type Job,
  type Runner,
  run,
  type TaskList,
  type WorkerEvents,
  type WorkerPool,
} from 'graphile-worker';
import type { Logger } from 'pino';
import { takeJobSpan } from './defineTask.ts';
import { createHeartbeat, type Heartbeat } from './heartbeat.ts';
import { taskFactories } from './tasks/index.ts';

/** How many recently finished jobs count as held (see heldJobs in createWorker). */
const MAX_RECENTLY_FINISHED = 10_000;

export interface WorkerDeps {
  config: Config;
  orm: MikroORM;
  logger: Logger;
  /** The PostgreSQL URL graphile-worker connects to (the same database as the ORM). */
  databaseUrl: string;
  /** Default: SMTP_URL, or .eml files in MAIL_DIR. */
  mailer?: Mailer;
  /** Default: the provider PAYMENT_PROVIDER names. */
  payments?: PaymentProvider;
  /** Job counters and durations go here, and its pool is added to the pool gauge. Default: none. */
  metrics?: WorkerMetrics;
}

export interface KeelsonWorker {
  /** Resolves once the worker listens for jobs. */
  start(): Promise<void>;
  /**
   * Stops taking jobs and lets running ones finish for WORKER_SHUTDOWN_GRACE_MS; what still runs then
   * is failed (so it is retried, by this or another worker), then connections are released.
   */
  stop(): Promise<void>;
  /** Fails the running jobs now (so they are retried) instead of waiting out the grace: a second signal. */
  interrupt(reason: string): void;
  /** Started and not stopping: what `/readyz` reports besides the database. */
  isRunning(): boolean;
  /** Resolves when the runner ends (after `stop`, or on a fatal error, which it rejects with). */
  readonly done: Promise<void>;
}

/**
 * The task identifiers a process runs: WORKER_TASKS, checked against the contracts, or all of them. An
 * unknown name stops start-up: a typo would otherwise leave its jobs unrun without a word.
 */
export function selectTasks(names: string[] | null): TaskName[] {
  const known = Object.keys(tasks) as TaskName[];
  if (!names) return known;
  const unknown = names.filter((n) => !known.includes(n as TaskName));
  if (unknown.length) {
    throw new ConfigError(
      `Invalid configuration:\n  WORKER_TASKS: unknown task(s) ${unknown.join(', ')}; known: ${known.join(', ')}`,
    );
  }
  return [...new Set(names)] as TaskName[];
}

/** The crontab lines of the tasks this process runs (a specialised replica schedules only its own). */
function crontabFor(selected: TaskName[]): string {
  return crontab
    .split('\n')
    .filter((line) => line.trim() && selected.includes(line.trim().split(/\s+/)[5] as TaskName))
    .join('\n');
}

/** Routes graphile-worker's log lines into pino, with job, task and attempt as fields. */
function graphileLogger(logger: Logger): GraphileLogger {
  return new GraphileLogger((scope) => {
    const child = logger.child({
      ...(scope.workerId ? { workerId: scope.workerId } : {}),
      ...(scope.taskIdentifier ? { task: scope.taskIdentifier } : {}),
      ...(scope.jobId ? { jobId: scope.jobId } : {}),
    });
    return (level, message, meta) => {
      const method = level === 'warning' ? 'warn' : level === 'error' ? 'error' : level === 'debug' ? 'debug' : 'info';
      // graphile-worker's meta can hold whole pg clients and job rows; keep the error and the job's
      // identity (its "Completed/Failed task" lines carry the job), drop the rest.
      const error = meta && 'error' in meta ? meta.error : undefined;
      const job =
        meta && 'job' in meta
          ? (meta.job as Partial<Pick<Job, 'id' | 'task_identifier' | 'attempts' | 'max_attempts'>>)
          : null;
      // The job's own span, for its "Completed/Failed task" line, which graphile-worker logs once the
      // span has ended (so the logger's active-span fields are not there).
      const span = job?.id && /^(Completed|Failed) task/.test(message) ? takeJobSpan(String(job.id)) : null;
      child[method](
        {
          ...(error ? { err: error } : {}),
          ...(job?.id
            ? { jobId: job.id, task: job.task_identifier, attempt: job.attempts, maxAttempts: job.max_attempts }
            : {}),
          ...span,
        },
        message,
      );
    };
  });
}

export function createWorker(deps: WorkerDeps): KeelsonWorker {
  const { config, orm, logger } = deps;
  const selected = selectTasks(config.worker.tasks);
  // Built where the API's are; tests may bring their own.
  const services = createServices({ config, orm });
  const mailer = deps.mailer ?? services.mailer;
  const payments = deps.payments ?? services.payments;
  // Raised after the grace (or a second signal) has failed the running jobs: a handler that still
  // returns then must not complete its job, which graphile-worker has already queued for a retry.
  const interruption = new AbortController();
  const taskDeps = {
    orm,
    mailer,
    payments,
    logger,
    interrupted: interruption.signal,
    paymentTimeoutMs: config.payments.timeoutMs,
    publicUrl: config.auth.publicUrl,
    reports: config.reports,
    eventsRetentionMs: config.events.retentionMs,
    chatEmailAfterMs: config.chat.emailAfterMs,
    metrics: deps.metrics,
  };
  const taskList = Object.fromEntries(selected.map((name) => [name, taskFactories[name](taskDeps)])) as TaskList;
  // The jobs this process holds: running ones, and for WORKER_DEAD_AFTER_MS after they end those whose
  // completion or failure may still be retried in the background (see apps/worker/patches); at most
  // MAX_RECENTLY_FINISHED of the newest, read once per heartbeat.
  const running = new Set<string>();
  const finished = new Map<string, number>();
  const heldJobs = () => {
    const since = Date.now() - config.worker.deadAfterMs;
    for (const [id, at] of finished) {
      if (at >= since && finished.size <= MAX_RECENTLY_FINISHED) break;
      finished.delete(id);
    }
    return [...running, ...finished.keys()];
  };
  const heartbeat: Heartbeat = createHeartbeat({
    databaseUrl: deps.databaseUrl,
    logger,
    intervalMs: config.worker.heartbeatIntervalMs,
    deadAfterMs: config.worker.deadAfterMs,
    preparedStatements: config.database.preparedStatements,
    heldJobs,
  });
  // Ours, not graphile-worker's: a forceful shutdown skips its own pool release, and we must still end it.
  // A connection cut while idle or checked out (a PostgreSQL restart) must not crash the process: pg
  // drops the client and the next query gets a new one (graphile-worker retries its own statements on
  // lost connections: see apps/worker/patches).
  const pgPool = createPgPool({
    url: deps.databaseUrl,
    max: config.worker.concurrency + 2,
    applicationName: 'keelson-worker-jobs',
    acquireTimeoutMs: config.database.acquireTimeoutMs,
    queryTimeoutMs: config.database.queryTimeoutMs,
    preparedStatements: config.database.preparedStatements,
    onError: (err, where) => logger.warn({ err, where }, 'worker database connection failed'),
  });
  deps.metrics?.trackPool(() => pgPool);
  // graphile-worker names a pool (its `locked_by`) only in this event, emitted inside run().
  const events: WorkerEvents = new EventEmitter() as WorkerEvents;
  // Around the whole attempt as graphile-worker sees it (payload validation included); job:error comes
  // for every failed attempt, retried or not.
  const { metrics } = deps;
  if (metrics) {
    events.on('job:start', ({ job }) => metrics.jobStarted(job));
    events.on('job:success', ({ job }) => metrics.jobFinished(job, 'success'));
    events.on('job:error', ({ job }) => metrics.jobFinished(job, 'failure'));
  }
  events.on('job:start', ({ job }) => running.add(job.id));
  events.on('job:complete', ({ job }) => {
    running.delete(job.id);
    finished.set(job.id, Date.now());
  });
  const pools: WorkerPool[] = [];
  events.on('pool:create', ({ workerPool }) => {
    pools.push(workerPool);
    heartbeat.add(workerPool.id);
  });
  // Pools already failing their jobs (graphile-worker's own event; its flag for it is internal).
  const forcefullyStopping = new WeakSet<WorkerPool>();
  events.on('pool:forcefulShutdown', ({ workerPool }) => forcefullyStopping.add(workerPool));
  let runner: Runner | undefined;
  let starting: Promise<void> | undefined;
  let stopping = false;
  let resolveDone: () => void = () => {};
  let rejectDone: (err: unknown) => void = () => {};
  const done = new Promise<void>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });

  const interrupt = (reason: string) => {
    interruption.abort(new Error(reason));
    const toStop = pools.filter((pool) => !forcefullyStopping.has(pool));
    if (toStop.length) logger.warn({ reason, jobs: [...running] }, 'failing running jobs so they are retried');
    for (const pool of toStop) {
      forcefullyStopping.add(pool);
      // graphile-worker fails each running job with this message (its last_error), retried after back-off.
      void Promise.resolve(
        pool.forcefulShutdown(
          `Interrupted: the worker stopped (${reason}) before the job finished; it will be retried`,
        ),
      ).catch((err: unknown) => logger.error({ err }, 'forceful shutdown failed'));
    }
  };

  return {
    done,
    isRunning: () => runner !== undefined && !stopping,
    interrupt,
    start() {
      // A stop that arrives while the runner is starting waits for it (see stop), then stops it.
      starting ??= (async () => {
        if (stopping) return;
        heartbeat.start();
        runner = await run({
          pgPool,
          schema: WORKER_SCHEMA,
          concurrency: config.worker.concurrency,
          pollInterval: config.worker.pollIntervalMs,
          taskList,
          // From the task contracts, not a ./crontab file, so the schedule is typed and reviewed with them.
          crontab: crontabFor(selected),
          logger: graphileLogger(logger),
          events,
          // main.ts owns signals: it stops the runner, then closes the ORM, then exits.
          noHandleSignals: true,
          // The jobs' abort signal (TaskContext.signal) fires when the grace runs out, as they are failed.
          preset: {
            worker: {
              gracefulShutdownAbortTimeout: config.worker.shutdownGraceMs,
              // Batched completion and failure (off by default): WORKER_*_BATCH_DELAY_MS. graphile-worker's
              // local queue is not offered: in 0.18 a pool whose local queue holds jobs cannot shut down
              // (releasing it throws, then the forceful shutdown never ends), and it runs the jobs of a
              // named queue (analytics__rollup's) concurrently (graphile/worker#621).
              completeJobBatchDelay: config.worker.completeBatchDelayMs,
              failJobBatchDelay: config.worker.failBatchDelayMs,
            },
          },
        });
        // The runner ends by itself only on a fatal error (graphile-worker may then resolve, not reject,
        // e.g. after its pool shut down because a job could not be released): either way, a crash.
        runner.promise.then(
          () => (stopping ? resolveDone() : rejectDone(new Error('the job runner stopped by itself'))),
          rejectDone,
        );
        logger.info(
          { concurrency: config.worker.concurrency, tasks: selected, workerIds: pools.map((p) => p.id) },
          'worker started',
        );
      })();
      return starting;
    },
    async stop() {
      stopping = true;
      await starting?.catch(() => {});
      if (runner) {
        const grace = setTimeout(
          () => interrupt(`shutdown grace of ${config.worker.shutdownGraceMs} ms ran out`),
          config.worker.shutdownGraceMs,
        );
        try {
          // Rejects only when the runner already stopped by itself (a fatal error `done` reports).
          await runner.stop().catch((err: unknown) => logger.warn({ err }, 'runner was already stopped'));
        } finally {
          clearTimeout(grace);
        }
      }
      await heartbeat.stop();
      await pgPool.end();
      mailer.close();
    },
  };
}
