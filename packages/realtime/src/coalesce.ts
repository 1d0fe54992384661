/**
 * The wake-up loop every realtime reader needs, written once: one run of a task at a time however often
 * it is woken, one more run if woken meanwhile (a burst of wake-ups costs two runs, not one each), and,
 * when a run fails, another on its own after `retryMs` — the wake-up that would have announced the same
 * work again may never come (a quiet shop sends no NOTIFY for hours).
 *
 * Used by the hub (sequencer runs and fan-out reads), the session re-check and the dashboard feed.
 */

export interface CoalescedOptions {
  /** Told of each failed run; the loop goes on. */
  onError(err: unknown): void;
  /** After a failed run, wake again on our own after this long, milliseconds. Default: never. */
  retryMs?: number;
}

export interface Coalesced {
  /**
   * Wakes the task: runs it now, or once more after the run in flight. Resolves when the loop that will
   * include that run settles (never rejects: failures go to `onError`).
   */
  run(): Promise<void>;
  /** A run is in flight. */
  readonly running: boolean;
  /** No more runs or retries; resolves once the run in flight settles. */
  close(): Promise<void>;
}

export function coalesced(task: () => Promise<unknown>, opts: CoalescedOptions): Coalesced {
  let loop: Promise<void> | null = null;
  let again = false;
  let closed = false;
  let retry: NodeJS.Timeout | null = null;

  const scheduleRetry = () => {
    if (closed || retry || opts.retryMs === undefined) return;
    retry = setTimeout(() => {
      retry = null;
      void run();
    }, opts.retryMs);
    // A pending retry must not keep a process alive that has nothing else left to do.
    retry.unref();
  };

  const run = (): Promise<void> => {
    if (closed) return Promise.resolve();
    if (loop) {
      again = true;
      return loop;
    }
    loop = (async () => {
      do {
        again = false;
        try {
          await task();
        } catch (err) {
          opts.onError(err);
          scheduleRetry();
        }
      } while (again && !closed);
      loop = null;
    })();
    return loop;
  };

  return {
    run,
    get running() {
      return loop !== null;
    },
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      retry = null;
      await loop;
    },
  };
}
