/**
 * The per-process session re-check of live subscriptions, against a real database: however many
 * subscriptions are watched, a tick is ONE query, and it ends exactly those whose session ended, whose
 * account was disabled, or (admin subscriptions) whose role was lost. Also the connection slots.
 */
import { ipThrottleKey, liveSessions } from '@keelson/auth';
import type { AppError } from '@keelson/errors';
import { createRealtime } from '@keelson/realtime';
import { createUsers, sql, testLogger, useTestOrm } from '@keelson/testing';
import pg from 'pg';
import { describe, expect, it, onTestFinished } from 'vitest';

const limits = { maxSubscriptionsPerConnection: 10, maxConnectionsPerUser: 2, maxConnectionsPerIp: 1 };

describe('realtime session re-check', () => {
  const t = useTestOrm();

  it('checks N subscriptions with one query per tick and ends only the dead ones', async () => {
    const customers = await createUsers(t.db.url, 40, { prefix: 'watch' });
    const admins = await createUsers(t.db.url, 10, { role: 'admin', prefix: 'watchadmin' });
    const sessionOf = async (userId: string) =>
      (await sql<{ id: string }>(t.db.url, 'select id from auth_session where user_id = $1', [userId]))[0]!.id;

    // Every statement about sessions or users that reaches PostgreSQL from this process, whatever sends
    // it (the ORM, its Kysely, a pool): counted where node-postgres sends it.
    const statements: string[] = [];
    const query = pg.Client.prototype.query;
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const first = args[0] as string | { text?: string } | undefined;
      const text = typeof first === 'string' ? first : (first?.text ?? '');
      if (/auth_session|app_user/.test(text)) statements.push(text);
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof query;
    onTestFinished(() => {
      pg.Client.prototype.query = query;
    });
    const calls: number[] = [];
    const realtime = createRealtime({
      orm: t.orm,
      logger: testLogger(),
      authRecheckMs: 60_000, // ticks are driven by hand below
      limits,
      ipKey: ipThrottleKey,
      checkSessions: (em, ids) => {
        calls.push(ids.length);
        return liveSessions(em, ids);
      },
    });
    try {
      const ended = new Map<string, AppError>();
      const users = [...customers, ...admins];
      const watches = [];
      for (const [i, user] of users.entries()) {
        const role = i < customers.length ? 'customer' : 'admin';
        const sessionId = await sessionOf(user.id);
        // Two subscriptions per session (a tab with two live views): still one id in the query.
        for (const n of [1, 2]) {
          watches.push(
            realtime.watch({ sessionId, userId: user.id, role }, (error) => ended.set(`${user.id}#${n}`, error)),
          );
        }
      }
      expect(realtime.stats.watched).toBe(100);

      statements.length = 0;
      await realtime.recheck();
      expect(calls).toEqual([50]);
      expect(statements).toHaveLength(1);
      expect(ended.size).toBe(0);

      // Log-out / revocation, an admin's disable, expiry, and a demotion.
      const [loggedOut, disabled, expired] = customers;
      const [demoted] = admins;
      await sql(t.db.url, 'delete from auth_session where user_id = $1', [loggedOut!.id]);
      await sql(t.db.url, 'update app_user set disabled_at = now() where id = $1', [disabled!.id]);
      await sql(t.db.url, `update auth_session set expires_at = now() - interval '1 second' where user_id = $1`, [
        expired!.id,
      ]);
      await sql(t.db.url, `update app_user set role = 'customer' where id = $1`, [demoted!.id]);

      statements.length = 0;
      await realtime.recheck();
      expect(statements).toHaveLength(1);
      const codes = Object.fromEntries([...ended].map(([key, error]) => [key, error.code]));
      expect(codes).toEqual({
        [`${loggedOut!.id}#1`]: 'UNAUTHENTICATED',
        [`${loggedOut!.id}#2`]: 'UNAUTHENTICATED',
        [`${disabled!.id}#1`]: 'UNAUTHENTICATED',
        [`${disabled!.id}#2`]: 'UNAUTHENTICATED',
        [`${expired!.id}#1`]: 'UNAUTHENTICATED',
        [`${expired!.id}#2`]: 'UNAUTHENTICATED',
        [`${demoted!.id}#1`]: 'FORBIDDEN',
        [`${demoted!.id}#2`]: 'FORBIDDEN',
      });
      // Ended ones are no longer watched; the next tick asks only for the others, once more in one query.
      expect(realtime.stats.watched).toBe(92);
      await realtime.recheck();
      expect(calls.at(-1)).toBe(46);
      expect(ended.size).toBe(8);

      for (const unwatch of watches) unwatch();
      expect(realtime.stats.watched).toBe(0);
      // Nothing watched, nothing asked.
      statements.length = 0;
      await realtime.recheck();
      expect(statements).toEqual([]);
    } finally {
      await realtime.close();
    }
  });

  it('counts connection slots per user and per anonymous IP, and gives them back once', async () => {
    const realtime = createRealtime({
      orm: t.orm,
      logger: testLogger(),
      authRecheckMs: 60_000,
      limits,
      checkSessions: liveSessions,
      ipKey: ipThrottleKey,
    });
    const first = realtime.acquireSlot({ userId: 'u1' });
    const second = realtime.acquireSlot({ userId: 'u1' });
    expect(() => realtime.acquireSlot({ userId: 'u1' })).toThrow(expect.objectContaining({ code: 'RATE_LIMITED' }));
    // Another user, and anonymous callers, have their own counts.
    const other = realtime.acquireSlot({ userId: 'u2' });
    const anonymous = realtime.acquireSlot({ ip: '203.0.113.7' });
    expect(() => realtime.acquireSlot({ ip: '203.0.113.7' })).toThrow(
      expect.objectContaining({ code: 'RATE_LIMITED' }),
    );
    // IPv6 clients count per /64: another address of the same network is the same client.
    const v6 = realtime.acquireSlot({ ip: '2001:db8:1:2::10' });
    expect(() => realtime.acquireSlot({ ip: '2001:db8:1:2:ffff::1' })).toThrow(
      expect.objectContaining({ code: 'RATE_LIMITED' }),
    );
    v6();
    first();
    first(); // idempotent: a double release must not free someone else's slot
    const third = realtime.acquireSlot({ userId: 'u1' });
    expect(() => realtime.acquireSlot({ userId: 'u1' })).toThrow(expect.objectContaining({ code: 'RATE_LIMITED' }));
    for (const release of [second, third, other, anonymous]) release();
    expect(realtime.stats.slots).toBe(0);
    await realtime.close();
  });
});
