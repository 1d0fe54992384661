import { cleanupAuth, hashToken } from '@keelson/auth';
import { Device, Session, Throttle, User } from '@keelson/db';
import { sql, useTestOrm } from '@keelson/testing';
import { describe, expect, it } from 'vitest';

describe('cleanupAuth', () => {
  const t = useTestOrm();

  it('deletes only what can never be used again', async () => {
    const em = t.orm.em.fork();
    const now = new Date();
    const ago = (ms: number) => new Date(now.getTime() - ms);
    const ahead = (ms: number) => new Date(now.getTime() + ms);
    const user = em.create(User, { email: 'c@cleanup.test', name: 'C', passwordHash: 'x' });
    const session = (name: string, expiresAt: Date, absoluteExpiresAt: Date) =>
      em.create(Session, { tokenHash: hashToken(name), user, expiresAt, absoluteExpiresAt });
    session('live', ahead(60_000), ahead(120_000));
    session('idle-expired', ago(1), ahead(120_000));
    session('absolute-expired', ahead(60_000), ago(1));
    em.create(Throttle, {
      bucket: 'b',
      key: 'stale',
      hits: 3,
      windowStartedAt: ago(2 * 86_400_000),
      blockedUntil: null,
    });
    em.create(Throttle, {
      bucket: 'b',
      key: 'blocked',
      hits: 9,
      windowStartedAt: ago(2 * 86_400_000),
      blockedUntil: ahead(60_000),
    });
    em.create(Throttle, { bucket: 'b', key: 'recent', hits: 1, windowStartedAt: ago(60_000) });
    em.create(Device, { tokenHash: hashToken('device-live'), user, expiresAt: ahead(60_000) });
    em.create(Device, { tokenHash: hashToken('device-expired'), user, expiresAt: ago(1) });
    await em.flush();

    expect(await cleanupAuth(t.orm.em.fork(), now)).toEqual({ sessions: 2, tokens: 0, throttles: 1, devices: 1 });
    expect(await sql(t.db.url, 'select token_hash from auth_session')).toEqual([{ token_hash: hashToken('live') }]);
    expect(
      (await sql<{ key: string }>(t.db.url, 'select key from auth_throttle order by key')).map((r) => r.key),
    ).toEqual(['blocked', 'recent']);
    expect(await sql(t.db.url, 'select token_hash from auth_device')).toEqual([
      { token_hash: hashToken('device-live') },
    ]);
  });
});
