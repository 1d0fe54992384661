/**
 * Abuse limits kept in PostgreSQL (table `auth_throttle`), so they hold across every API process.
 *
 * An attempt is *claimed* before the work it guards (a password check) runs: one atomic upsert counts
 * it and, once the count reaches `max`, blocks the key straight away. So a burst of concurrent guesses
 * cannot slip past the limit while the first ones are still being verified; a success clears the key.
 */

import { isIPv6 } from 'node:net';
import { AppError } from '@keelson/errors';
import type { EntityManager } from '@mikro-orm/postgresql';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

export interface ThrottleRule {
  bucket: string;
  /** Attempts allowed in a window; the attempt that reaches it blocks the key. */
  max: number;
  windowMs: number;
  /** Block for base × 2^(hits − max), capped at `cap`, instead of to the end of the window. */
  backoff?: { baseMs: number; capMs: number };
}

export const rules = {
  /**
   * Log-ins per account and IP: 5 attempts, then 1 s, 2 s, 4 s, … up to 15 min between tries. Keyed by
   * IP too, so a stranger cannot lock an account's owner out from elsewhere.
   */
  loginAccountIp: {
    bucket: 'login:account-ip',
    max: 5,
    windowMs: 1 * HOUR,
    backoff: { baseMs: SECOND, capMs: 15 * MINUTE },
  },
  /** Log-ins per account from anywhere: stops guessing spread over many IPs (at the cost of a possible lock-out). */
  loginAccount: { bucket: 'login:account', max: 50, windowMs: 1 * HOUR },
  /** Log-ins per IP, across accounts (credential stuffing). */
  loginIp: { bucket: 'login:ip', max: 100, windowMs: 15 * MINUTE },
  /** Sign-ups per IP; generous enough for an office or a carrier's shared address. */
  signUpIp: { bucket: 'signup:ip', max: 20, windowMs: 1 * HOUR },
  resetIp: { bucket: 'reset:ip', max: 10, windowMs: 1 * HOUR },
  resetAccount: { bucket: 'reset:account', max: 3, windowMs: 1 * HOUR },
  /** "Someone tried to sign up with your address" emails per account, so sign-ups cannot flood a mailbox. */
  signUpNoticeAccount: { bucket: 'signup-notice:account', max: 3, windowMs: 1 * HOUR },
  verifyAccount: { bucket: 'verify:account', max: 5, windowMs: 1 * HOUR },
  /** Current-password checks of a signed-in user (password and email changes): like log-ins. */
  passwordCheck: {
    bucket: 'password:user',
    max: 5,
    windowMs: 1 * HOUR,
    backoff: { baseMs: SECOND, capMs: 15 * MINUTE },
  },
  /**
   * `analytics.track` events per IP, anonymous or signed in (claimed with the call's event count as its
   * cost): 600 a minute, far above what a person's browsing sends, low enough to keep a script from
   * filling the table.
   */
  analyticsIp: { bucket: 'analytics:ip', max: 600, windowMs: 1 * MINUTE },
} as const satisfies Record<string, ThrottleRule>;

export interface Claim {
  rule: ThrottleRule;
  key: string;
  now: Date;
  /** How many units this attempt uses (events in a batch). Default: 1. */
  cost?: number;
}

function rateLimited(blockedUntil: Date, now: Date): AppError {
  const retryAfterSeconds = Math.max(1, Math.ceil((blockedUntil.getTime() - now.getTime()) / SECOND));
  return new AppError('RATE_LIMITED', { details: { retryAfterSeconds } });
}

function blockFor(rule: ThrottleRule, at: { hits: number; windowStartedAt: Date; now: Date }): Date | null {
  const { hits, windowStartedAt, now } = at;
  if (hits < rule.max) return null;
  if ('backoff' in rule && rule.backoff) {
    return new Date(now.getTime() + Math.min(rule.backoff.capMs, rule.backoff.baseMs * 2 ** (hits - rule.max)));
  }
  return new Date(windowStartedAt.getTime() + rule.windowMs);
}

/**
 * Counts an attempt, or refuses it with RATE_LIMITED (uncounted) while the key is blocked. The row is
 * locked while it is read and written, so concurrent claims queue up and each sees the block the one
 * before it set. Runs in a transaction of its own: no rollback of the caller's can undo a count.
 */
export async function claim(em: EntityManager, { rule, key, now, cost = 1 }: Claim): Promise<void> {
  const refusedUntil = await em.fork().transactional(async (tx) => {
    const conn = tx.getConnection();
    const ctx = tx.getTransactionContext();
    await conn.execute(
      'insert into auth_throttle (bucket, key, hits, window_started_at) values (?, ?, 0, ?) on conflict do nothing',
      [rule.bucket, key, now],
      'run',
      ctx,
    );
    const [row] = await conn.execute<{ hits: number; window_started_at: Date; blocked_until: Date | null }[]>(
      'select hits, window_started_at, blocked_until from auth_throttle where bucket = ? and key = ? for update',
      [rule.bucket, key],
      'all',
      ctx,
    );
    if (!row) throw new Error(`throttle row ${rule.bucket}/${key} vanished`);
    const fresh = new Date(row.window_started_at).getTime() <= now.getTime() - rule.windowMs;
    if (!fresh && row.blocked_until && new Date(row.blocked_until) > now) return new Date(row.blocked_until);
    // A batch that would overshoot what is left of the window is refused whole and uncounted (a smaller
    // one may still fit); single attempts keep the rule's own behaviour (the max-th goes through, then blocks).
    if (cost > 1 && !fresh && row.hits + cost > rule.max) {
      return new Date(new Date(row.window_started_at).getTime() + rule.windowMs);
    }
    const hits = fresh ? cost : row.hits + cost;
    const windowStartedAt = fresh ? now : new Date(row.window_started_at);
    await conn.execute(
      'update auth_throttle set hits = ?, window_started_at = ?, blocked_until = ? where bucket = ? and key = ?',
      [hits, windowStartedAt, blockFor(rule, { hits, windowStartedAt, now }), rule.bucket, key],
      'run',
      ctx,
    );
    return null;
  });
  if (refusedUntil) throw rateLimited(refusedUntil, now);
}

export async function clearThrottle(
  em: EntityManager,
  { rule, key }: { rule: ThrottleRule; key: string },
): Promise<void> {
  await em.getConnection().execute('delete from auth_throttle where bucket = ? and key = ?', [rule.bucket, key]);
}

/**
 * The throttle key of a client address. An IPv6 client usually holds a whole /64 (and can pick any
 * address in it), so IPv6 addresses count by their /64 prefix; IPv4 (and IPv4-mapped IPv6) by address.
 */
export function ipThrottleKey(ip: string | null): string {
  if (!ip) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped?.[1]) return mapped[1];
  if (!isIPv6(ip)) return ip;
  const [head = '', tail = ''] = ip.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}
