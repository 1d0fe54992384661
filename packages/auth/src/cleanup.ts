import type { Database } from '@keelson/db';
import type { EntityManager } from '@mikro-orm/postgresql';
import { deleteExpiredDevices } from './devices.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

/** Typed SQL on the entities' tables, in `em`'s transaction when it has one. */
const kysely = (em: EntityManager) => em.getKysely<Database>();

export interface CleanupResult {
  sessions: number;
  tokens: number;
  throttles: number;
  devices: number;
}

/**
 * Deletes what can never be used again: expired sessions, emailed tokens a week after they expired or
 * were used (kept a while for support questions), throttle counters whose window and block are over,
 * and devices not seen for their lifetime.
 */
export async function cleanupAuth(em: EntityManager, now: Date = new Date()): Promise<CleanupResult> {
  const db = kysely(em);
  const week = new Date(now.getTime() - 7 * DAY_MS);
  const [sessions, tokens, throttles, devices] = await Promise.all([
    db
      .deleteFrom('auth_session')
      .where((eb) => eb.or([eb('expires_at', '<=', now), eb('absolute_expires_at', '<=', now)]))
      .executeTakeFirst(),
    db
      .deleteFrom('auth_token')
      .where((eb) => eb.or([eb('expires_at', '<=', week), eb('used_at', '<=', week)]))
      .executeTakeFirst(),
    db
      .deleteFrom('auth_throttle')
      .where('window_started_at', '<=', new Date(now.getTime() - DAY_MS))
      .where((eb) => eb.or([eb('blocked_until', 'is', null), eb('blocked_until', '<=', now)]))
      .executeTakeFirst(),
    deleteExpiredDevices(em, now),
  ]);
  return {
    sessions: Number(sessions.numDeletedRows),
    tokens: Number(tokens.numDeletedRows),
    throttles: Number(throttles.numDeletedRows),
    devices,
  };
}
