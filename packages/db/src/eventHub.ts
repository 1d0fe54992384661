/**
 * One process's fan-out of the realtime outbox. A single LISTEN connection hears `keelson_events`
 * wake-ups; the hub then reads the new `app_event` rows once (everything after the last id it saw) and
 * hands each to the in-process subscribers whose filter accepts it. After a LISTEN gap (database
 * restart, killed connection) the same read catches up, so nothing committed is skipped.
 *
 * Glossary: *cursor* — the id of the last event read; events commit in id order (see `publishEvents`),
 * so "after the cursor" is exactly "not seen yet".
 */

import { EVENTS_CHANNEL, type EventTopic, readEventsAfter, type StoredEvent } from './events.ts';
import { createListener, type Listener, type ListenerLogger } from './listener.ts';
import type { MikroORM } from './orm.ts';

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
  /** First LISTEN reconnection delay, milliseconds (see createListener). Default 100. */
  initialBackoffMs?: number;
}

export interface SubscribeOptions {
  /** Which events this subscriber gets (authorization belongs here too). */
  filter(event: StoredEvent): boolean;
  /** Narrows the back-fill read; the filter still decides. */
  topics?: readonly EventTopic[];
  /** Narrows the back-fill read to public events and this user's; undefined reads everyone's. */
  userId?: string | null;
  /** Deliver events after this id first (a reconnecting client's cursor), then live ones. */
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
  /** The process's cursor. */
  readonly lastId: number;
  /** The LISTEN connection, for diagnostics and tests. */
  readonly listener: Listener;
}

interface Subscriber {
  filter(event: StoredEvent): boolean;
  queue: StoredEvent[];
  overflowed: boolean;
  wake(): void;
}

export function createEventHub(opts: EventHubOptions): EventHub {
  const batchSize = opts.batchSize ?? 500;
  const maxQueue = opts.maxQueue ?? 1_000;
  const subscribers = new Set<Subscriber>();
  let lastId = 0;
  let closed = false;
  let reading: Promise<void> | null = null;
  let again = false;

  const read = (afterId: number, extra: Pick<SubscribeOptions, 'topics' | 'userId'> = {}) =>
    readEventsAfter(opts.orm.em.fork(), { afterId, limit: batchSize, ...extra });

  const dispatch = (event: StoredEvent) => {
    for (const sub of subscribers) {
      if (sub.overflowed || !sub.filter(event)) continue;
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
      for (const event of events) {
        lastId = event.id;
        dispatch(event);
      }
      if (events.length < batchSize || closed) return;
    }
  };

  /** Coalesces wake-ups: one read at a time, and one more if any arrived meanwhile. */
  const pull = () => {
    if (closed) return;
    if (reading) {
      again = true;
      return;
    }
    reading = (async () => {
      do {
        again = false;
        try {
          await drain();
        } catch (err) {
          // The next wake-up (or reconnection) reads again from the same cursor.
          opts.logger?.warn({ err }, 'could not read events');
        }
      } while (again && !closed);
      reading = null;
    })();
  };

  const listener = createListener({
    url: opts.url,
    channels: [EVENTS_CHANNEL],
    applicationName: 'keelson-events',
    ...(opts.logger ? { logger: opts.logger } : {}),
    ...(opts.initialBackoffMs ? { initialBackoffMs: opts.initialBackoffMs } : {}),
    onNotification: pull,
    // Also the catch-up after a gap: NOTIFYs sent while deaf are lost, rows are not.
    onConnect: pull,
  });

  async function* subscribe(sub: SubscribeOptions): AsyncGenerator<StoredEvent, void, undefined> {
    const { signal } = sub;
    let wake: (() => void) | null = null;
    const me: Subscriber = {
      filter: sub.filter,
      queue: [],
      // A back-fill is an overflow that has not happened yet: read the table until caught up.
      overflowed: sub.lastEventId != null,
      wake: () => wake?.(),
    };
    const onAbort = () => me.wake();
    signal?.addEventListener('abort', onAbort, { once: true });
    // Subscribe before back-filling, so nothing committed meanwhile falls between the two.
    subscribers.add(me);
    let cursor = sub.lastEventId ?? 0;
    const done = () => closed || signal?.aborted === true;
    try {
      while (!done()) {
        if (me.overflowed) {
          me.overflowed = false;
          for (;;) {
            const events = await read(cursor, { topics: sub.topics, userId: sub.userId });
            for (const event of events) {
              cursor = event.id;
              if (sub.filter(event)) yield event;
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
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = null;
      }
    } finally {
      subscribers.delete(me);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  return {
    async start() {
      // Start from now: a process delivers live events; history is for back-fills.
      const [row] = await opts.orm.em
        .fork()
        .getConnection()
        .execute<{ id: string | null }[]>('select max(id) as id from app_event');
      lastId = Number(row?.id ?? 0);
      await listener.start();
    },
    async close() {
      closed = true;
      for (const sub of subscribers) sub.wake();
      await listener.close();
      await reading;
    },
    subscribe,
    get subscriberCount() {
      return subscribers.size;
    },
    get lastId() {
      return lastId;
    },
    listener,
  };
}
