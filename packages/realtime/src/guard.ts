/**
 * The safety of one API process's live subscriptions: a session that ends (log-out, revocation, a
 * password change, an admin's disable or demotion, expiry) ends the subscriptions it opened within
 * `authRecheckMs`; connections are capped per user and per anonymous IP; and a stopping process ends
 * its subscriptions so that clients reconnect elsewhere.
 *
 * Glossary: *watched* — a live subscription opened with a session, re-checked on every tick; *slot* —
 * one realtime connection (a WebSocket, or one SSE stream) counted against its user or IP.
 *
 * Every watched subscription is re-checked by ONE query per tick for the whole process (`liveSessions`),
 * however many there are: 10,000 subscribers cost the database what one does.
 */
import type { MikroORM, UserRole } from '@keelson/db';
import { AppError } from '@keelson/errors';
import type { EntityManager } from '@mikro-orm/postgresql';
import { coalesced } from './coalesce.ts';

/** A session as a re-check finds it: whose it is, and the role it carries now. */
export interface LiveSession {
  userId: string;
  role: UserRole;
}

export interface RealtimeLimits {
  /** Subscriptions one WebSocket connection may hold. */
  maxSubscriptionsPerConnection: number;
  /** WebSockets plus SSE streams one signed-in user may hold in this process. */
  maxConnectionsPerUser: number;
  /** The same for connections without a session, per client IP. */
  maxConnectionsPerIp: number;
}

export interface RealtimeOptions {
  orm: MikroORM;
  logger: { warn(obj: object, msg?: string): void };
  /** How often watched sessions are re-checked, milliseconds (SUBSCRIPTION_AUTH_RECHECK_MS). */
  authRecheckMs: number;
  limits: RealtimeLimits;
  /**
   * The query of a tick: which of these sessions (public ids) are live (`@keelson/auth`'s `liveSessions`;
   * passed in, since the guard knows no domain).
   */
  checkSessions(em: EntityManager, sessionIds: readonly string[]): Promise<Map<string, LiveSession>>;
  /** What an anonymous connection counts against (`@keelson/auth`'s `ipThrottleKey`: one key per IPv6 /64). */
  ipKey(ip: string | null): string;
}

/** Who a watched subscription acts for, as it was when it started. */
export interface WatchedIdentity {
  /** Public session id. */
  sessionId: string;
  userId: string;
  /** An admin's subscription may show more; losing the role ends it with FORBIDDEN. */
  role: LiveSession['role'];
}

/** Who a connection slot is counted against. */
export type SlotOwner = { userId: string } | { ip: string | null };

export interface Realtime {
  readonly limits: RealtimeLimits;
  /**
   * Re-checks `identity` on every tick until the returned function is called; `end` is called once,
   * with the error to send, when the session is gone or the role lost.
   */
  watch(identity: WatchedIdentity, end: (error: AppError) => void): () => void;
  /**
   * Takes a connection slot; the returned function gives it back (idempotent). Throws RATE_LIMITED
   * when the owner holds the most allowed already.
   */
  acquireSlot(owner: SlotOwner): () => void;
  /** Registers what to end on shutdown (an SSE stream); returns the unregister function. */
  onShutdown(end: (error: AppError) => void): () => void;
  /** Ends every registered stream with SHUTTING_DOWN, and refuses new ones. */
  shutdown(): void;
  readonly shuttingDown: boolean;
  /** One tick now (tests; the timer calls the same). */
  recheck(): Promise<void>;
  start(): void;
  close(): Promise<void>;
  /** For tests and leak checks. */
  readonly stats: { watched: number; slots: number; shutdownListeners: number };
}

export function createRealtime(opts: RealtimeOptions): Realtime {
  const check = opts.checkSessions;
  const watched = new Map<object, { identity: WatchedIdentity; end: (error: AppError) => void }>();
  const slots = new Map<string, number>();
  const shutdownListeners = new Set<(error: AppError) => void>();
  let timer: NodeJS.Timeout | null = null;
  let shuttingDown = false;

  const tick = async () => {
    if (!watched.size) return;
    const entries = [...watched.entries()];
    const ids = [...new Set(entries.map(([, w]) => w.identity.sessionId))];
    const live = await check(opts.orm.em.fork(), ids);
    for (const [key, { identity, end }] of entries) {
      if (!watched.has(key)) continue;
      const session = live.get(identity.sessionId);
      const error =
        !session || session.userId !== identity.userId
          ? new AppError('UNAUTHENTICATED', { message: 'Your session ended; sign in again.' })
          : identity.role === 'admin' && session.role !== 'admin'
            ? new AppError('FORBIDDEN', { message: 'You no longer have the role this subscription needs.' })
            : null;
      if (error) {
        watched.delete(key);
        end(error);
      }
    }
  };

  // Never two ticks at once: a slow query delays the next check rather than piling up connections. A
  // failed one (a database hiccup) must not sign everyone out: the next tick decides.
  const ticks = coalesced(tick, {
    onError: (err) => opts.logger.warn({ err }, 'could not re-check subscription sessions'),
  });
  const recheck = () => ticks.run();

  return {
    limits: opts.limits,
    watch(identity, end) {
      const key = {};
      watched.set(key, { identity, end });
      return () => {
        watched.delete(key);
      };
    },
    acquireSlot(owner) {
      const [key, max] =
        'userId' in owner
          ? [`user:${owner.userId}`, opts.limits.maxConnectionsPerUser]
          : // Per /64 for IPv6, like every throttle: one client holds a whole /64 to rotate through.
            [`ip:${opts.ipKey(owner.ip)}`, opts.limits.maxConnectionsPerIp];
      const held = slots.get(key) ?? 0;
      if (held >= max) {
        throw new AppError('RATE_LIMITED', {
          message: `Too many realtime connections (at most ${max}); close one first.`,
          details: { maxConnections: max },
        });
      }
      slots.set(key, held + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (slots.get(key) ?? 1) - 1;
        if (left > 0) slots.set(key, left);
        else slots.delete(key);
      };
    },
    onShutdown(end) {
      if (shuttingDown) {
        end(new AppError('SHUTTING_DOWN'));
        return () => {};
      }
      shutdownListeners.add(end);
      return () => {
        shutdownListeners.delete(end);
      };
    },
    shutdown() {
      shuttingDown = true;
      const error = new AppError('SHUTTING_DOWN');
      for (const end of [...shutdownListeners]) end(error);
      shutdownListeners.clear();
    },
    get shuttingDown() {
      return shuttingDown;
    },
    recheck,
    start() {
      timer ??= setInterval(() => void recheck(), opts.authRecheckMs);
      // The process must be able to exit on its own when nothing else is left.
      timer.unref();
    },
    async close() {
      if (timer) clearInterval(timer);
      timer = null;
      await ticks.close();
    },
    get stats() {
      return {
        watched: watched.size,
        slots: [...slots.values()].reduce((a, b) => a + b, 0),
        shutdownListeners: shutdownListeners.size,
      };
    },
  };
}
