import type { QueryResult } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { deleteExpiredDevices } from './devices.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

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
  const conn = em.getConnection();
  const week = new Date(now.getTime() - 7 * DAY_MS);
  const [sessions, tokens, throttles, devices] = await Promise.all([
    conn.execute<QueryResult>(
      'delete from auth_session where expires_at <= ? or absolute_expires_at <= ?',
      [now, now],
      'run',
    ),
    conn.execute<QueryResult>('delete from auth_token where expires_at <= ? or used_at <= ?', [week, week], 'run'),
    conn.execute<QueryResult>(
      `delete from auth_throttle where window_started_at <= ? and (blocked_until is null or blocked_until <= ?)`,
      [new Date(now.getTime() - DAY_MS), now],
      'run',
    ),
    deleteExpiredDevices(em, now),
  ]);
  return {
    sessions: sessions.affectedRows,
    tokens: tokens.affectedRows,
    throttles: throttles.affectedRows,
    devices,
  };
}
