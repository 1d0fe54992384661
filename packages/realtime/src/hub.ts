/**
 * One process's fan-out of the realtime outbox. A single LISTEN connection per process hears two kinds
 * of wake-up: `keelson_events_pending` (a writer committed events; the hub runs the sequencer, which
 * gives them positions) and `keelson_events` (events were sequenced; the hub reads the new rows once,
 * everything after the last position it saw, and hands each to the in-process subscribers whose filter
 * accepts it). After a LISTEN gap (database restart, killed connection) it sequences and reads again, so
 * nothing committed is skipped. The same connection carries other channels of the process
 * (`channels`, e.g. the catalogue cache's), so an API process holds one LISTEN connection, not one per
 * feature.
 *
 * Glossary: *cursor* — the position of the last event read; positions become visible in order (see
 * `sequenceEvents`), so "after the cursor" is exactly "not seen yet".
 */

import type { MikroORM } from '@keelson/db';
import { coalesced } from './coalesce.ts';
import { createListener, type Listener, type ListenerLogger } from './listener.ts';
import {
  EVENTS_CHANNEL,
  EVENTS_PENDING_CHANNEL,
  EventsExpiredError,
  type EventTopic,
  eventLogBounds,
  readEventsAfter,
  type StoredEvent,
  sequenceEvents,
} from './outbox.ts';
import { wakeUp } from './wakeUp.ts';

/** Another feature's channel on the hub's LISTEN connection. */
export interface ChannelHandler {
  onNotification(payload: string): void;
  /** LISTEN is in place (again: `reconnect`, after a gap whose notifications were lost). */
  onConnect?(info: { reconnect: boolean }): void;
  /** The connection dropped: nothing is heard until the next `onConnect`. */
  onDisconnect?(): void;
}

export interface EventHubOptions {
  orm: MikroORM;
  /** PostgreSQL connection string for the LISTEN connection. */
  url: string;
  logger?: ListenerLogger;
  /** Rows per read, for the fan-out and for back-fills. Default 500. */
  batchSize?: number;
  /**
   * Events a subscriber may have waiting before the hub stops queueing for it; the subscriber then
   * re-reads what it missed from the table, so a slow consumer costs a query, not unbounded memory.
   * Default 1000.
   */
  maxQueue?: number;
  /**
   * Back-fill reads (resumes, catch-ups after an overflow) in flight at once; the others wait their turn.
   * Default 2.
   */
  maxConcurrentBackfills?: number;
  /** First LISTEN reconnection delay, milliseconds (see createListener). Default 100. */
  initialBackoffMs?: number;
  /** More channels for the same LISTEN connection, by channel name. Default none. */
  channels?: Readonly<Record<string, ChannelHandler>>;
  /** After a failed sequencer run or fan-out read, how long before the next try, milliseconds. Default 1000. */
  sequenceRetryMs?: number;
  /** Each batch the fan-out read (not back-fills), before dispatch: for metrics. */
  onEvents?(events: readonly StoredEvent[]): void;
}

export interface SubscribeOptions {
  /** Only events of these topics; all topics when absent. */
  topics?: readonly EventTopic[];
  /**
   * Who is asking, the authorization: a user id sees public events and that user's; null, public events
   * only; undefined (an admin), everyone's. Applied to live events and back-fills alike, in one place.
   */
  userId?: string | null;
  /** Narrows further within what `topics` and `userId` allow (an order id, product ids). */
  filter?(event: StoredEvent): boolean;
  /**
   * Deliver events after this position first (a reconnecting client's cursor), then live ones. A cursor
   * older than what pruning removed ends the iteration with `EventsExpiredError`.
   */
  lastEventId?: number | null;
  /** Ends the iteration (tRPC's `opts.signal`). */
  signal?: AbortSignal;
}

export interface EventHub {
  start(): Promise<void>;
  close(): Promise<void>;
  subscribe(opts: SubscribeOptions): AsyncGenerator<StoredEvent, void, undefined>;
  /** Live subscribers (for tests and leak checks). */
  readonly subscriberCount: number;
  /** Runs the sequencer now (coalesced with runs in flight); resolves when the run is over. */
  sequence(): Promise<void>;
  /** The process's cursor. */
  readonly lastId: number;
  /** The LISTEN connection, for diagnostics and tests. */
  readonly listener: Listener;
}

interface Subscriber {
  accepts(event: StoredEvent): boolean;
  queue: StoredEvent[];
  overflowed: boolean;
  wake(): void;
}

/** `topics` and `userId` as the back-fill query applies them (see `readEventsAfter`), for live events. */
function visibleTo(sub: Pick<SubscribeOptions, 'topics' | 'userId'>, event: StoredEvent): boolean {
  if (sub.topics && !sub.topics.includes(event.topic)) return false;
  if (sub.userId === undefined || event.userId === null) return true;
  return sub.userId !== null && event.userId === sub.userId;
}

export function createEventHub(opts: EventHubOptions): EventHub {
  const batchSize = opts.batchSize ?? 500;
  const maxQueue = opts.maxQueue ?? 1_000;
  const maxBackfills = opts.maxConcurrentBackfills ?? 2;
  let backfills = 0;
  const backfillTurns: (() => void)[] = [];
  const subscribers = new Set<Subscriber>();
  let lastId = 0;
  let closed = false;
  const retryMs = opts.sequenceRetryMs ?? 1_000;

  const read = (afterId: number, extra: Pick<SubscribeOptions, 'topics' | 'userId'> = {}) =>
    readEventsAfter(opts.orm.em.fork(), { afterId, limit: batchSize, ...extra });

  /**
   * One back-fill read and the pruning mark after it. Throttled: every subscription may back-fill, and one
   * anonymous `lastEventId: "0"` reads the whole retained history, so thousands of resuming subscriptions
   * (one client's hundreds of sockets, or every client after a restart) would otherwise hold every pooled
   * connection and starve the process's requests.
   */
  const backfill = async (
    cursor: number,
    extra: Pick<SubscribeOptions, 'topics' | 'userId'>,
    stopped: () => boolean,
  ) => {
    while (backfills >= maxBackfills) await new Promise<void>((resolve) => backfillTurns.push(resolve));
    backfills++;
    try {
      // Stopped while waiting (a client cycling subscribe/stop): the turn goes to the next one unused.
      if (stopped()) return null;
      const events = await read(cursor, extra);
      // Checked after the read: a prune that removed rows the read needed committed before the read's
      // snapshot, so its mark is visible now.
      return { events, ...(await eventLogBounds(opts.orm.em.fork())) };
    } finally {
      backfills--;
      backfillTurns.shift()?.();
    }
  };

  const dispatch = (event: StoredEvent) => {
    for (const sub of subscribers) {
      if (sub.overflowed || !sub.accepts(event)) continue;
      if (sub.queue.length >= maxQueue) {
        sub.queue.length = 0;
        sub.overflowed = true;
      } else {
        sub.queue.push(event);
      }
      sub.wake();
    }
  };

  const drain = async () => {
    for (;;) {
      const events = await read(lastId);
      if (events.length) opts.onEvents?.(events);
      for (const event of events) {
        lastId = event.id;
        dispatch(event);
      }
      if (events.length < batchSize || closed) return;
    }
  };

  /**
   * Fan-out reads, coalesced: one at a time, one more if woken meanwhile. A failed read is retried from
   * the same cursor on our own: the events are already sequenced, so no NOTIFY will announce them again.
   */
  const reads = coalesced(drain, {
    retryMs,
    onError: (err) => opts.logger?.warn({ err }, 'could not read events'),
  });
  const pull = () => void reads.run();

  /**
   * Sequencer runs, coalesced like reads (a burst of commits costs two runs, not one per commit); its
   * NOTIFY then makes every hub read. Unsequenced rows of a failed run wait for the retry.
   */
  const sequencer = coalesced(() => sequenceEvents(opts.orm.em.fork()), {
    retryMs,
    onError: (err) => opts.logger?.warn({ err }, 'could not sequence events'),
  });
  const sequence = () => sequencer.run();

  const extra = opts.channels ?? {};
  const listener = createListener({
    url: opts.url,
    channels: [EVENTS_CHANNEL, EVENTS_PENDING_CHANNEL, ...Object.keys(extra)],
    ...(opts.logger ? { logger: opts.logger } : {}),
    ...(opts.initialBackoffMs ? { initialBackoffMs: opts.initialBackoffMs } : {}),
    onNotification: ({ channel, payload }) => {
      if (channel === EVENTS_CHANNEL) pull();
      else if (channel === EVENTS_PENDING_CHANNEL) void sequence();
      else extra[channel]?.onNotification(payload);
    },
    onConnect: (info) => {
      for (const handler of Object.values(extra)) handler.onConnect?.(info);
      // Also the catch-up after a gap: NOTIFYs sent while deaf are lost, rows are not. Sequencing
      // first, so rows committed meanwhile are read now rather than at the next wake-up.
      void sequence().then(pull);
    },
    onDisconnect: () => {
      for (const handler of Object.values(extra)) handler.onDisconnect?.();
    },
  });

  async function* subscribe(sub: SubscribeOptions): AsyncGenerator<StoredEvent, void, undefined> {
    const { signal } = sub;
    const waker = wakeUp();
    const me: Subscriber = {
      accepts: (event) => visibleTo(sub, event) && (sub.filter?.(event) ?? true),
      queue: [],
      // A back-fill is an overflow that has not happened yet: read the table until caught up.
      overflowed: sub.lastEventId != null,
      wake: waker.wake,
    };
    const onAbort = () => me.wake();
    signal?.addEventListener('abort', onAbort, { once: true });
    // Subscribe before back-filling, so nothing committed meanwhile falls between the two.
    subscribers.add(me);
    // Without a cursor of its own, a subscriber starts where the process is: an overflow then re-reads
    // what it missed, never the whole history.
    let cursor = sub.lastEventId ?? lastId;
    const done = () => closed || signal?.aborted === true;
    try {
      while (!done()) {
        if (me.overflowed) {
          me.overflowed = false;
          for (;;) {
            const page = await backfill(cursor, { topics: sub.topics, userId: sub.userId }, done);
            if (!page || done()) return;
            const { events, prunedThrough, head } = page;
            if (prunedThrough > cursor) throw new EventsExpiredError(cursor, prunedThrough);
            // A cursor past the log's head was never issued by this database (a restored backup, another
            // environment's id): resuming would silently skip every event until the log caught up.
            if (cursor > head) throw new EventsExpiredError(cursor, prunedThrough, 'ahead');
            for (const event of events) {
              cursor = event.id;
              if (me.accepts(event)) yield event;
              if (done()) return;
            }
            if (events.length < batchSize) break;
          }
          continue;
        }
        const event = me.queue.shift();
        if (event) {
          // Already delivered by a back-fill.
          if (event.id <= cursor) continue;
          cursor = event.id;
          yield event;
          continue;
        }
        await waker.wait();
      }
    } finally {
      subscribers.delete(me);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  return {
    async start() {
      // Start from now: a process delivers live events; history is for back-fills. Sequencing first
      // makes "now" include what committed before the start.
      await sequence();
      // The log's head, which is the pruning mark when pruning emptied the table: a cursor below the
      // mark would make a subscriber's first overflow look like a resume from pruned history.
      lastId = (await eventLogBounds(opts.orm.em.fork())).head;
      await listener.start();
    },
    async close() {
      closed = true;
      for (const sub of subscribers) sub.wake();
      await listener.close();
      await Promise.all([reads.close(), sequencer.close()]);
    },
    subscribe,
    sequence,
    get subscriberCount() {
      return subscribers.size;
    },
    get lastId() {
      return lastId;
    },
    listener,
  };
}
