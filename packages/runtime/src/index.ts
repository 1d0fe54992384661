/**
 * What every Keelson process shares at run time: one way to log, one way to stop.
 */
import pino, { type Logger } from 'pino';

/** Keys whose values never reach a log line. */
export const redactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.password',
  '*.token',
];

export function createLogger(opts: { name: string; level: string }): Logger {
  return pino({ name: opts.name, level: opts.level, redact: { paths: redactPaths, censor: '[redacted]' } });
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
