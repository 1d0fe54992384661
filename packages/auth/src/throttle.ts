/**
 * Abuse limits kept in PostgreSQL (table `auth_throttle`), so they hold across every API process.
 *
 * An attempt is *claimed* before the work it guards (a password check) runs: the claim counts it and,
 * once the count reaches `max`, blocks the key straight away. So a burst of concurrent guesses cannot
 * slip past the limit while the first ones are still being verified; a success clears the key.
 *
 * An attempt that falls under several rules (a log-in: per IP, per account, per account and IP) is
 * claimed against all of them at once and charged to all or to none: one a rule refuses costs the
 * others nothing, so fifty guesses refused from one address never use up the account's budget for
 * everyone else.
 */

import { isIPv6 } from 'node:net';
import { type Database, rowDate } from '@keelson/db';
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
  /**
   * Log-ins per account from anywhere, without a device token: stops guessing spread over many IPs. It
   * can lock out only clients the account has never seen: the owner's known devices are counted by
   * `loginDevice` instead.
   */
  loginAccount: { bucket: 'login:account', max: 50, windowMs: 1 * HOUR },
  /**
   * Log-ins presenting a valid device token of the account (see devices.ts), per device: like the
   * account+IP rule, and the only rule such an attempt is counted against (OWASP, "Slow Down Online
   * Guessing Attacks with Device Cookies").
   */
  loginDevice: {
    bucket: 'login:device',
    max: 5,
    windowMs: 1 * HOUR,
    backoff: { baseMs: SECOND, capMs: 15 * MINUTE },
  },
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

interface Counter {
  hits: number;
  windowStartedAt: Date;
  blockedUntil: Date | null;
}

/** What one rule makes of an attempt: refused until a time, or the counter after charging it. */
function judge(claim: Claim, row: Counter): { refusedUntil: Date } | { charged: Counter } {
  const { rule, now, cost = 1 } = claim;
  const fresh = row.windowStartedAt.getTime() <= now.getTime() - rule.windowMs;
  if (!fresh && row.blockedUntil && row.blockedUntil > now) return { refusedUntil: row.blockedUntil };
  // A batch that would overshoot what is left of the window is refused whole and uncounted (a smaller
  // one may still fit); single attempts keep the rule's own behaviour (the max-th goes through, then blocks).
  if (cost > 1 && !fresh && row.hits + cost > rule.max) {
    return { refusedUntil: new Date(row.windowStartedAt.getTime() + rule.windowMs) };
  }
  const hits = fresh ? cost : row.hits + cost;
  const windowStartedAt = fresh ? now : row.windowStartedAt;
  return { charged: { hits, windowStartedAt, blockedUntil: blockFor(rule, { hits, windowStartedAt, now }) } };
}

/** Ends a claim's transaction, rolling it back, when a rule refuses the attempt. */
class Refused extends Error {
  readonly until: Date;
  constructor(until: Date) {
    super('refused');
    this.until = until;
  }
}

/** The order rows are locked in, the same in every process: by bucket, then key (code units). */
function byRow(a: Claim, b: Claim): number {
  const [x, y] = [`${a.rule.bucket}\u0000${a.key}`, `${b.rule.bucket}\u0000${b.key}`];
  if (x === y) return 0;
  return x < y ? -1 : 1;
}

/**
 * Counts an attempt against every rule in `claims`, or refuses it with RATE_LIMITED while any of them
 * blocks its key, charging none (Retry-After: when the last of those blocks ends). The rows are locked
 * while they are read and written, always in the same order, so concurrent claims queue up (never
 * deadlock) and each sees the blocks the one before it set. Runs in a transaction of its own: no
 * rollback of the caller's can undo a count.
 */
export async function claimAll(em: EntityManager, claims: readonly Claim[]): Promise<void> {
  const ordered = [...claims].sort(byRow);
  for (let i = 1; i < ordered.length; i++) {
    if (byRow(ordered[i - 1]!, ordered[i]!) === 0) throw new Error(`${ordered[i]!.rule.bucket} claimed twice`);
  }
  try {
    await em.fork().transactional(async (tx) => {
      const db = tx.getKysely<Database>();
      const verdicts = [];
      for (const claim of ordered) {
        const where = { bucket: claim.rule.bucket, key: claim.key };
        await db
          .insertInto('auth_throttle')
          .values({ ...where, hits: 0, window_started_at: claim.now })
          .onConflict((c) => c.doNothing())
          .execute();
        const row = await db
          .selectFrom('auth_throttle')
          .select(['hits', 'window_started_at', 'blocked_until'])
          .where('bucket', '=', where.bucket)
          .where('key', '=', where.key)
          .forUpdate()
          .executeTakeFirstOrThrow(() => new Error(`throttle row ${where.bucket}/${where.key} vanished`));
        const counter = {
          hits: row.hits,
          windowStartedAt: rowDate(tx, row.window_started_at),
          blockedUntil: row.blocked_until ? rowDate(tx, row.blocked_until) : null,
        };
        verdicts.push({ claim, verdict: judge(claim, counter) });
      }
      const refusals = verdicts.flatMap(({ verdict }) =>
        'refusedUntil' in verdict ? [verdict.refusedUntil.getTime()] : [],
      );
      // Thrown, so rolled back: a refused attempt leaves no trace, not even the rows it inserted.
      if (refusals.length) throw new Refused(new Date(Math.max(...refusals)));
      for (const { claim, verdict } of verdicts) {
        if (!('charged' in verdict)) continue;
        const { hits, windowStartedAt, blockedUntil } = verdict.charged;
        await db
          .updateTable('auth_throttle')
          .set({ hits, window_started_at: windowStartedAt, blocked_until: blockedUntil })
          .where('bucket', '=', claim.rule.bucket)
          .where('key', '=', claim.key)
          .execute();
      }
    });
  } catch (err) {
    throw err instanceof Refused ? rateLimited(err.until, ordered[0]?.now ?? new Date()) : err;
  }
}

/** Counts an attempt under one rule, or refuses it (uncounted) while the key is blocked; see `claimAll`. */
export function claim(em: EntityManager, attempt: Claim): Promise<void> {
  return claimAll(em, [attempt]);
}

/**
 * Takes back one attempt's charge (an attempt that turned out to be the owner's), lifting the block
 * it may have set. A block that stays (other attempts reached the limit too) keeps its end.
 */
export async function refundThrottle(em: EntityManager, { rule, key, cost = 1 }: Claim): Promise<void> {
  await em
    .getKysely<Database>()
    .updateTable('auth_throttle')
    .set((eb) => ({
      hits: eb.fn<number>('greatest', [eb('hits', '-', cost), eb.lit(0)]),
      blocked_until: eb
        .case()
        .when('hits', '<=', rule.max - 1 + cost)
        .then(null)
        .else(eb.ref('blocked_until'))
        .end(),
    }))
    .where('bucket', '=', rule.bucket)
    .where('key', '=', key)
    .execute();
}

/** Forgets the counters of these keys (a success: the client proved who it is). */
export async function clearThrottle(
  em: EntityManager,
  ...keys: readonly { rule: ThrottleRule; key: string }[]
): Promise<void> {
  const db = em.getKysely<Database>();
  for (const { rule, key } of keys) {
    await db.deleteFrom('auth_throttle').where('bucket', '=', rule.bucket).where('key', '=', key).execute();
  }
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
