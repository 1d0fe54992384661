/**
 * Typing indicators: ephemeral, so never written anywhere. A `chat.typing` call NOTIFYs
 * `keelson_chat_typing` (PostgreSQL delivers it to every API process's LISTEN connection, the hub's),
 * and each process hands it to its own `chat.onTyping` subscribers of that conversation. A process that
 * is reconnecting its LISTEN misses some: an indicator is worth nothing a few seconds later anyway.
 */
import { wakeUp } from '@keelson/realtime';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { z } from 'zod';
import type { Side } from './conversations.ts';
import type { TypingEvent } from './schemas.ts';

export const TYPING_CHANNEL = 'keelson_chat_typing';

/** At most one indicator per user and conversation this often; clients send one every few seconds. */
export const TYPING_INTERVAL_MS = 1_000;

const notification = z.object({
  conversationId: z.uuid(),
  role: z.enum(['customer', 'staff']),
  name: z.string().max(200),
  at: z.iso.datetime(),
});

export interface TypingBus {
  /** Feeds a NOTIFY payload from the LISTEN connection (malformed ones are dropped). */
  deliver(payload: string): void;
  /** Calls `listener` for each indicator in the conversation; returns the unsubscribe. */
  subscribe(conversationId: string, listener: (event: TypingEvent) => void): () => void;
  /**
   * Whether this user may send an indicator for this conversation now (and counts it). Kept per
   * process: a client holds one socket, so its indicators reach one process.
   */
  allow(userId: string, conversationId: string, now?: number): boolean;
  /** The conversation's indicators as they arrive, until `signal` aborts (a slow reader drops the oldest). */
  stream(conversationId: string, signal?: AbortSignal): AsyncGenerator<TypingEvent, void, undefined>;
  readonly subscriberCount: number;
}

/** Indicators a subscriber that does not keep up may have waiting; older ones are stale anyway. */
const MAX_QUEUED = 20;

export function createTypingBus(opts: { intervalMs?: number; maxTracked?: number } = {}): TypingBus {
  const intervalMs = opts.intervalMs ?? TYPING_INTERVAL_MS;
  const maxTracked = opts.maxTracked ?? 100_000;
  const listeners = new Map<string, Set<(event: TypingEvent) => void>>();
  const lastSent = new Map<string, number>();
  let count = 0;
  function subscribe(conversationId: string, listener: (event: TypingEvent) => void) {
    let set = listeners.get(conversationId);
    if (!set) {
      set = new Set();
      listeners.set(conversationId, set);
    }
    set.add(listener);
    count++;
    return () => {
      if (!set.delete(listener)) return;
      count--;
      if (set.size === 0) listeners.delete(conversationId);
    };
  }
  return {
    subscribe,
    async *stream(conversationId, signal) {
      const queue: TypingEvent[] = [];
      const waker = wakeUp();
      const off = subscribe(conversationId, (event) => {
        queue.push(event);
        if (queue.length > MAX_QUEUED) queue.shift();
        waker.wake();
      });
      const onAbort = () => waker.wake();
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        while (!signal?.aborted) {
          const next = queue.shift();
          if (next) {
            yield next;
            continue;
          }
          await waker.wait();
        }
      } finally {
        off();
        signal?.removeEventListener('abort', onAbort);
      }
    },
    deliver(payload) {
      let parsed: z.infer<typeof notification>;
      try {
        parsed = notification.parse(JSON.parse(payload));
      } catch {
        return;
      }
      const set = listeners.get(parsed.conversationId);
      if (!set) return;
      const event = { ...parsed, at: new Date(parsed.at) };
      for (const l of set) l(event);
    },
    allow(userId, conversationId, now = Date.now()) {
      const key = `${userId}:${conversationId}`;
      const last = lastSent.get(key);
      if (last !== undefined && now - last < intervalMs) return false;
      // Bounded: old entries go first (Map keeps insertion order; re-inserting moves a key last).
      lastSent.delete(key);
      lastSent.set(key, now);
      if (lastSent.size > maxTracked) {
        for (const k of lastSent.keys()) {
          lastSent.delete(k);
          if (lastSent.size <= maxTracked / 2) break;
        }
      }
      return true;
    },
    get subscriberCount() {
      return count;
    },
  };
}

/** Sends an indicator to every API process (the caller checked the conversation and the rate). */
export async function publishTyping(
  em: EntityManager,
  event: { conversationId: string; role: Side; name: string },
): Promise<void> {
  const payload = JSON.stringify({ ...event, name: event.name.slice(0, 200), at: new Date().toISOString() });
  await sql`select pg_notify(${TYPING_CHANNEL}, ${payload})`.execute(em.getKysely());
}
