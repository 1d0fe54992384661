/**
 * What every Keelson process shares at run time: one way to log, one way to stop.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { isSpanContextValid, trace } from '@opentelemetry/api';
import pino, { type Logger } from 'pino';
import { redactSerializedError, redactText } from './redact.ts';

export { redactSerializedError, redactText } from './redact.ts';

/**
 * Keys whose values never reach a log line: at the top of the logged object, one and two levels down
 * (`{ input: { password } }`), and in the request and response headers pino's serializers produce.
 * Values inside messages and errors are masked apart (redact.ts).
 */
const SECRET_KEYS = ['password', 'newPassword', 'token', 'deviceToken', 'resetToken', 'cookie', 'authorization'];
export const redactPaths = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((k) => `*.${k}`),
  ...SECRET_KEYS.map((k) => `*.*.${k}`),
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
];

/** Fields every line logged inside `withLogFields` carries, whichever logger writes it. */
const logFields = new AsyncLocalStorage<Record<string, unknown>>();

/**
 * Runs `fn` with `fields` added to every log line written during it (and its async continuations): the
 * user id, known only once a tRPC procedure has authenticated, reaches lines logged deep in services
 * that were handed the request's logger before anyone knew who was calling.
 */
export function withLogFields<T>(fields: Record<string, unknown>, fn: () => T): T {
  return logFields.run({ ...logFields.getStore(), ...fields }, fn);
}

/**
 * `trace_id` and `span_id` of the active span, so a log line leads to its trace (and back). Without the
 * OpenTelemetry SDK there is never an active span and this adds nothing.
 */
function correlationFields(): Record<string, unknown> {
  const span = trace.getActiveSpan()?.spanContext();
  const fields = logFields.getStore();
  if (!span || !isSpanContextValid(span)) return fields ?? {};
  return { ...fields, trace_id: span.traceId, span_id: span.spanId };
}

export function createLogger(opts: {
  name: string;
  level: string;
  /** Where lines go; default stdout. */
  destination?: pino.DestinationStream;
}): Logger {
  return pino(
    {
      name: opts.name,
      level: opts.level,
      redact: { paths: redactPaths, censor: '[redacted]' },
      mixin: correlationFields,
      serializers: { err: (e: Error) => redactSerializedError(pino.stdSerializers.err(e) as Record<string, unknown>) },
      // The message itself: graphile-worker's "Failed task … with error '…'" repeats the error's text.
      hooks: {
        logMethod(args, method) {
          const masked = args.map((a) => (typeof a === 'string' ? redactText(a) : a)) as typeof args;
          method.apply(this, masked);
        },
      },
    },
    opts.destination,
  );
}

export interface ShutdownOptions {
  logger: Logger;
  /** After this long the process exits with code 1, whatever is still running. */
  timeoutMs: number;
  /** Stops taking work, finishes what runs, releases connections. */
  stop: () => Promise<void>;
  /**
   * On a second signal while `stop` runs: cut short what is still running (the worker fails its running
   * jobs so they are retried) and let `stop` finish. Without it, a second signal exits at once.
   */
  forceStop?: () => void;
}

/**
 * On SIGTERM or SIGINT: run `stop`, then let the process exit 0 once nothing is left (1 if `stop`
 * threw). A second signal, or the timeout, exits at once with 1: an operator pressing Ctrl-C twice
 * means it. With `forceStop`, the second signal calls it instead (still bounded by the timeout) and the
 * third exits.
 */
export function exitGracefullyOnSignals(opts: ShutdownOptions): void {
  const { logger } = opts;
  let signals = 0;
  const onSignal = async (signal: NodeJS.Signals) => {
    signals++;
    if (signals === 2 && opts.forceStop) {
      logger.warn({ signal }, 'second signal: interrupting running work');
      opts.forceStop();
      return;
    }
    if (signals > 1) {
      logger.warn({ signal }, opts.forceStop ? 'third signal: exiting now' : 'second signal: exiting now');
      process.exit(1);
    }
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs: opts.timeoutMs }, 'shutdown timed out: exiting');
      process.exit(1);
    }, opts.timeoutMs);
    timer.unref();
    try {
      await opts.stop();
      logger.info('stopped');
      process.exitCode = 0;
    } catch (err) {
      logger.error({ err }, 'error while shutting down');
      process.exitCode = 1;
    } finally {
      clearTimeout(timer);
    }
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

export {
  describeDatabaseUrl,
  explainStartupError,
  failStartup,
  firstTakenPort,
  type StartupContext,
} from './startup.ts';
