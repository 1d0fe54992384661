/**
 * Known devices, after OWASP's "Slow Down Online Guessing Attacks with Device Cookies": every successful
 * log-in hands the client a device token bound to the account (an HttpOnly cookie for browsers, a field
 * of the answer for other clients). A later log-in to that account presenting it is throttled per
 * device and escapes the per-account rule, so whoever guesses the password elsewhere cannot lock the
 * owner out of the browsers and apps they already use; clients without one are throttled as strangers.
 *
 * The token is 256 random bits, stored as its SHA-256 with the account it was issued to: it cannot be
 * forged, and one account's token gives no trust to another. Each successful log-in replaces the token
 * it presented (a copy taken earlier stops working); a password reset forgets every device of the
 * account, a password change every device but the one making it.
 */
import { type Database, Device } from '@keelson/db';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { SessionConfig } from './sessions.ts';
import { hashToken, newToken } from './tokens.ts';

const DAY_MS = 24 * 60 * 60 * 1000;
/** How long a device stays known without a log-in: long enough for someone who logs in twice a year. */
export const DEVICE_TTL_MS = 180 * DAY_MS;
/**
 * Devices kept per account, newest first: a script that logs in often and drops the token it is given
 * would otherwise add a row every time.
 */
export const MAX_DEVICES_PER_USER = 20;

const COOKIE = 'keelson_device';
/** What `newToken` makes: 32 bytes as unpadded base64url. Anything else is not ours; not worth a query. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** The device a token stands for when it is a live one of the account with this email; null otherwise. */
export async function findDevice(
  em: EntityManager,
  input: { token: string; email: string; now: Date },
): Promise<{ id: string; userId: string } | null> {
  if (!TOKEN_SHAPE.test(input.token)) return null;
  const row = await em
    .getKysely<Database>()
    .selectFrom('auth_device as d')
    .innerJoin('app_user as u', 'u.id', 'd.user_id')
    .select(['d.id', 'd.user_id'])
    .where('d.token_hash', '=', hashToken(input.token))
    .where('u.email', '=', input.email)
    .where('d.expires_at', '>', input.now)
    .executeTakeFirst();
  return row ? { id: row.id, userId: row.user_id } : null;
}

/**
 * Issues a device token for the account, retiring the device it replaces (the token this log-in
 * presented) and the oldest beyond MAX_DEVICES_PER_USER. Returns the raw token, which only the client keeps.
 */
export async function issueDevice(
  em: EntityManager,
  input: { userId: string; replacing: string | null; now: Date },
): Promise<string> {
  const token = newToken();
  const db = em.getKysely<Database>();
  if (input.replacing) {
    await db.deleteFrom('auth_device').where('id', '=', input.replacing).where('user_id', '=', input.userId).execute();
  }
  const device = em.create(Device, {
    tokenHash: hashToken(token),
    user: input.userId,
    createdAt: input.now,
    expiresAt: new Date(input.now.getTime() + DEVICE_TTL_MS),
  });
  await em.flush();
  // The one just issued always stays, whatever ties in `created_at` a burst of log-ins makes.
  const newestOthers = db
    .selectFrom('auth_device')
    .select('id')
    .where('user_id', '=', input.userId)
    .where('id', '<>', device.id)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(MAX_DEVICES_PER_USER - 1);
  await db
    .deleteFrom('auth_device')
    .where('user_id', '=', input.userId)
    .where('id', '<>', device.id)
    .where('id', 'not in', newestOthers)
    .execute();
  return token;
}

/** Forgets the account's devices, but the one `keep` (a raw token) stands for; returns how many. */
export async function forgetDevices(em: EntityManager, userId: string, keep?: string | null): Promise<number> {
  let query = em.getKysely<Database>().deleteFrom('auth_device').where('user_id', '=', userId);
  if (keep) query = query.where('token_hash', '<>', hashToken(keep));
  const result = await query.executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Devices past their lifetime, for the nightly clean-up. */
export async function deleteExpiredDevices(em: EntityManager, now: Date): Promise<number> {
  const result = await em
    .getKysely<Database>()
    .deleteFrom('auth_device')
    .where('expires_at', '<=', now)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

function cookieName(config: SessionConfig): string {
  // As for the session: `__Host-` keeps a sibling subdomain from planting or reading its own.
  return config.cookieSecure ? `__Host-${COOKIE}` : COOKIE;
}

/** The Set-Cookie header of a device token: HttpOnly, SameSite=Lax, Secure as configured, DEVICE_TTL_MS long. */
export function deviceCookie(config: SessionConfig, token: string): string {
  const attributes = [`Max-Age=${Math.floor(DEVICE_TTL_MS / 1000)}`, 'Path=/', 'HttpOnly', 'SameSite=Lax'];
  if (config.cookieSecure) attributes.push('Secure');
  return [`${cookieName(config)}=${token}`, ...attributes].join('; ');
}

/** The device token a Cookie header carries, or null (none, or not the shape of one: never an exception). */
export function readDeviceCookie(config: SessionConfig, cookieHeader: string): string | null {
  const name = cookieName(config);
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    return TOKEN_SHAPE.test(value) ? value : null;
  }
  return null;
}
