/**
 * One API process's dashboard ticker: a single snapshot query per tick, whatever the number of admins
 * watching, and no query at all while nobody watches.
 *
 * Glossary: *tick* — one run of `read`; the next is scheduled `intervalMs` after it settles, so two
 * never overlap, however slow the database. *latest* — the last snapshot read while someone watched;
 * forgotten when the last subscriber leaves, so a later newcomer never gets an old one.
 */
import { coalesced, wakeUp } from '@keelson/realtime';
import type { DashboardSnapshot } from './dashboard.ts';

export interface DashboardFeedOptions {
  /** Reads one snapshot (the app passes `readDashboardSnapshot` on a forked EntityManager). */
  read(): Promise<DashboardSnapshot>;
  /** Pause between the end of one read and the start of the next, milliseconds (DASHBOARD_INTERVAL_MS). */
  intervalMs: number;
  logger?: { warn(obj: object, msg?: string): void };
}

export interface DashboardFeed {
  /**
   * Snapshots until `signal` aborts or the feed closes: the latest one at once if there is one, then
   * each new one. A consumer slower than the ticks skips to the newest (snapshots supersede each other).
   */
  subscribe(signal?: AbortSignal): AsyncGenerator<DashboardSnapshot, void, undefined>;
  close(): Promise<void>;
  /** Live subscribers (for tests and leak checks). */
  readonly subscriberCount: number;
  /** Reads started so far: with N subscribers, still one per tick. */
  readonly reads: number;
  /** A tick is scheduled or running; false whenever nobody watches (after an in-flight read settles). */
  readonly active: boolean;
}

interface Subscriber {
  /** The newest snapshot this subscriber has not been given yet. */
  pending: DashboardSnapshot | null;
  wake(): void;
}

export function createDashboardFeed(opts: DashboardFeedOptions): DashboardFeed {
  const subscribers = new Set<Subscriber>();
  let latest: DashboardSnapshot | null = null;
  let timer: NodeJS.Timeout | null = null;
  let reads = 0;
  let closed = false;

  // One read at a time (the realtime loop); each schedules the next itself once it settles.
  const reader = coalesced(
    async () => {
      timer = null;
      reads++;
      try {
        const snapshot = await opts.read();
        // Someone may have left during the read; then nobody is told, and nothing is kept.
        if (!subscribers.size || closed) return;
        latest = snapshot;
        for (const sub of subscribers) {
          sub.pending = snapshot;
          sub.wake();
        }
      } finally {
        if (subscribers.size && !closed) timer = setTimeout(() => void reader.run(), opts.intervalMs);
        else latest = null;
      }
    },
    // Watchers keep the previous figures; the next tick tries again.
    { onError: (err) => opts.logger?.warn({ err }, 'could not read the dashboard snapshot') },
  );

  /** Starts ticking if nothing is: a read in flight schedules the next tick itself when it settles. */
  const ensureTicking = () => {
    if (!timer && !reader.running && !closed) void reader.run();
  };

  const stopIfIdle = () => {
    if (subscribers.size) return;
    if (timer) clearTimeout(timer);
    timer = null;
    latest = null;
  };

  async function* subscribe(signal?: AbortSignal): AsyncGenerator<DashboardSnapshot, void, undefined> {
    const waker = wakeUp();
    const me: Subscriber = { pending: latest, wake: waker.wake };
    const onAbort = () => me.wake();
    signal?.addEventListener('abort', onAbort, { once: true });
    subscribers.add(me);
    ensureTicking();
    try {
      while (!closed && !signal?.aborted) {
        const snapshot = me.pending;
        if (snapshot) {
          me.pending = null;
          yield snapshot;
          continue;
        }
        await waker.wait();
      }
    } finally {
      subscribers.delete(me);
      signal?.removeEventListener('abort', onAbort);
      stopIfIdle();
    }
  }

  return {
    subscribe,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = null;
      for (const sub of subscribers) sub.wake();
      await reader.close();
    },
    get subscriberCount() {
      return subscribers.size;
    },
    get reads() {
      return reads;
    },
    get active() {
      return timer !== null || reader.running;
    },
  };
}
