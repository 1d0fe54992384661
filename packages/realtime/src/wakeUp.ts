/**
 * The other half of every subscriber loop (the hub's, the dashboard feed's, the typing bus's): the
 * async generator awaits `wait()` when it has nothing to yield, and whatever gives it something (a new
 * event, an abort, a close) calls `wake()`. A wake with nobody waiting is kept for the next wait, so one
 * that lands while the loop is busy is never lost.
 */
export interface WakeUp {
  wake(): void;
  wait(): Promise<void>;
}

export function wakeUp(): WakeUp {
  let waiting: (() => void) | null = null;
  let pending = false;
  return {
    wake() {
      if (!waiting) {
        pending = true;
        return;
      }
      const resolve = waiting;
      waiting = null;
      resolve();
    },
    wait() {
      if (pending) {
        pending = false;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => {
        waiting = resolve;
      });
    },
  };
}
