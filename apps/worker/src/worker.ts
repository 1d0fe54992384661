/**
 * `createWorker(deps)` builds the job runner without starting it; `main.ts` starts it and owns signals.
 */
import type { Config } from '@keelson/config';
import { type MikroORM, WORKER_SCHEMA } from '@keelson/db';
import { createMailer, type Mailer } from '@keelson/email';
import { crontab } from '@keelson/jobs';
import { createSandboxProvider, type PaymentProvider } from '@keelson/payments';
import { Logger as GraphileLogger, type Runner, run, type TaskList } from 'graphile-worker';
import type { Logger } from 'pino';
import { taskFactories } from './tasks/index.ts';

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
}

export interface KeelsonWorker {
  /** Resolves once the worker listens for jobs. */
  start(): Promise<void>;
  /** Stops taking jobs, waits for running ones, releases connections. */
  stop(): Promise<void>;
  /** Resolves when the runner ends (after `stop`, or on a fatal error, which it rejects with). */
  readonly done: Promise<void>;
}

/** Routes graphile-worker's log lines into pino, with job and task as fields. */
function graphileLogger(logger: Logger): GraphileLogger {
  return new GraphileLogger((scope) => {
    const child = logger.child({
      ...(scope.workerId ? { workerId: scope.workerId } : {}),
      ...(scope.taskIdentifier ? { task: scope.taskIdentifier } : {}),
      ...(scope.jobId ? { jobId: scope.jobId } : {}),
    });
    return (level, message, meta) => {
      const method = level === 'warning' ? 'warn' : level === 'error' ? 'error' : level === 'debug' ? 'debug' : 'info';
      // graphile-worker's meta can hold whole pg clients and job rows; keep the error, drop the rest.
      const error = meta && 'error' in meta ? meta.error : undefined;
      child[method](error ? { err: error } : {}, message);
    };
  });
}

export function createWorker(deps: WorkerDeps): KeelsonWorker {
  const { config, orm, logger } = deps;
  const mailer = deps.mailer ?? createMailer(config.mail);
  const payments =
    deps.payments ?? createSandboxProvider(orm, { transientFailures: config.payments.sandboxTransientFailures });
  const taskDeps = {
    orm,
    mailer,
    payments,
    paymentTimeoutMs: config.payments.timeoutMs,
    publicUrl: config.auth.publicUrl,
    reports: config.reports,
  };
  const taskList = Object.fromEntries(
    Object.entries(taskFactories).map(([name, factory]) => [name, factory(taskDeps)]),
  ) as TaskList;
  let runner: Runner | undefined;
  let resolveDone: () => void = () => {};
  let rejectDone: (err: unknown) => void = () => {};
  const done = new Promise<void>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });

  return {
    done,
    async start() {
      runner = await run({
        connectionString: deps.databaseUrl,
        schema: WORKER_SCHEMA,
        concurrency: config.worker.concurrency,
        pollInterval: config.worker.pollIntervalMs,
        taskList,
        // From the task contracts, not a ./crontab file, so the schedule is typed and reviewed with them.
        crontab,
        logger: graphileLogger(logger),
        // main.ts owns signals: it stops the runner, then closes the ORM, then exits.
        noHandleSignals: true,
        // Jobs still running this long after SIGTERM are failed (and so retried later), leaving the
        // rest of the shutdown budget for that bookkeeping before main.ts's hard exit.
        preset: { worker: { gracefulShutdownAbortTimeout: Math.floor(config.shutdownTimeoutMs * 0.75) } },
      });
      runner.promise.then(resolveDone, rejectDone);
      logger.info({ concurrency: config.worker.concurrency, tasks: Object.keys(taskList) }, 'worker started');
    },
    async stop() {
      if (runner) await runner.stop();
      mailer.close();
    },
  };
}
