/**
 * Abuse limits kept in PostgreSQL (table `auth_throttle`), so they hold across every API process.
 * Each rule counts hits per key in a window; past `max` hits the key is blocked, for the rest of the
 * window or, with `backoff`, for an exponentially growing time.
 */
import { Throttle } from '@keelson/db';
import { AppError } from '@keelson/errors';
import type { EntityManager } from '@mikro-orm/postgresql';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

export interface ThrottleRule {
  bucket: string;
  /** Hits allowed in a window before blocking. */
  max: number;
  windowMs: number;
  /** Block for base × 2^(hits − max − 1), capped at `cap`, instead of to the end of the window. */
  backoff?: { baseMs: number; capMs: number };
}

export const rules = {
  /** Failed log-ins per account: 5 free, then 1 s, 2 s, 4 s, … up to 15 min between tries. */
  loginAccount: {
    bucket: 'login:account',
    max: 5,
    windowMs: 1 * HOUR,
    backoff: { baseMs: SECOND, capMs: 15 * MINUTE },
  },
  /** Failed log-ins per IP, across accounts (credential stuffing). */
  loginIp: { bucket: 'login:ip', max: 50, windowMs: 15 * MINUTE },
  /** Sign-ups per IP; generous enough for an office or a carrier's shared address. */
  signUpIp: { bucket: 'signup:ip', max: 20, windowMs: 1 * HOUR },
  resetIp: { bucket: 'reset:ip', max: 10, windowMs: 1 * HOUR },
  resetAccount: { bucket: 'reset:account', max: 3, windowMs: 1 * HOUR },
  verifyAccount: { bucket: 'verify:account', max: 5, windowMs: 1 * HOUR },
} as const satisfies Record<string, ThrottleRule>;

function rateLimited(blockedUntil: Date, now: Date): AppError {
  const retryAfterSeconds = Math.max(1, Math.ceil((blockedUntil.getTime() - now.getTime()) / SECOND));
  return new AppError('RATE_LIMITED', { details: { retryAfterSeconds } });
}

/** Throws RATE_LIMITED while `key` is blocked under `rule`. Reads only. */
export async function assertNotThrottled(
  em: EntityManager,
  { rule, key, now }: { rule: ThrottleRule; key: string; now: Date },
): Promise<void> {
  const row = await em.findOne(Throttle, { bucket: rule.bucket, key }, { disableIdentityMap: true });
  if (row?.blockedUntil && row.blockedUntil > now) throw rateLimited(row.blockedUntil, now);
}

/**
 * Counts one hit (atomically, whatever the concurrency) and blocks the key when it passes the limit.
 * Returns the block's end, if any. Runs in its own statement, so it survives the caller's rollback.
 */
export async function recordHit(
  em: EntityManager,
  { rule, key, now }: { rule: ThrottleRule; key: string; now: Date },
): Promise<Date | null> {
  const windowStart = new Date(now.getTime() - rule.windowMs);
  const [row] = await em.getConnection().execute<{ hits: number; window_started_at: Date }[]>(
    `insert into auth_throttle as t (bucket, key, hits, window_started_at) values (?, ?, 1, ?)
     on conflict (bucket, key) do update set
       hits = case when t.window_started_at < ? then 1 else t.hits + 1 end,
       window_started_at = case when t.window_started_at < ? then excluded.window_started_at else t.window_started_at end,
       blocked_until = case when t.window_started_at < ? then null else t.blocked_until end
     returning hits, window_started_at`,
    [rule.bucket, key, now, windowStart, windowStart, windowStart],
  );
  if (!row || row.hits <= rule.max) return null;
  const blockedUntil =
    'backoff' in rule && rule.backoff
      ? new Date(now.getTime() + Math.min(rule.backoff.capMs, rule.backoff.baseMs * 2 ** (row.hits - rule.max - 1)))
      : new Date(new Date(row.window_started_at).getTime() + rule.windowMs);
  await em
    .getConnection()
    .execute('update auth_throttle set blocked_until = ? where bucket = ? and key = ?', [
      blockedUntil,
      rule.bucket,
      key,
    ]);
  return blockedUntil;
}

/** Counts a hit and throws RATE_LIMITED when that hit crossed the limit (sign-up, reset requests). */
export async function consume(em: EntityManager, opts: { rule: ThrottleRule; key: string; now: Date }): Promise<void> {
  await assertNotThrottled(em, opts);
  const blockedUntil = await recordHit(em, opts);
  if (blockedUntil) throw rateLimited(blockedUntil, opts.now);
}

export async function clearThrottle(
  em: EntityManager,
  { rule, key }: { rule: ThrottleRule; key: string },
): Promise<void> {
  await em.getConnection().execute('delete from auth_throttle where bucket = ? and key = ?', [rule.bucket, key]);
}
