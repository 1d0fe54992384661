import { createListener, type ListenerNotification } from '@keelson/realtime';
import { eventually, sql, tcpProxy, testDatabase } from '@keelson/testing/database';
import { describe, expect, it } from 'vitest';

describe('createListener', () => {
  it('receives notifications, reconnects after its connection is killed, and hears later ones', async () => {
    await using db = await testDatabase();
    const received: ListenerNotification[] = [];
    const events: string[] = [];
    const listener = createListener({
      url: db.url,
      channels: ['test_one', 'test_two'],
      onNotification: (n) => received.push(n),
      onConnect: ({ reconnect }) => events.push(reconnect ? 'reconnect' : 'connect'),
      onDisconnect: () => events.push('disconnect'),
      initialBackoffMs: 20,
    });
    try {
      await listener.start();
      expect(listener.connected).toBe(true);
      expect(events).toEqual(['connect']);
      await sql(db.url, `select pg_notify('test_one', 'a'), pg_notify('test_two', 'b'), pg_notify('other', 'c')`);
      await eventually(async () => received.length >= 2);
      expect(received).toEqual([
        { channel: 'test_one', payload: 'a' },
        { channel: 'test_two', payload: 'b' },
      ]);

      const pid = listener.backendPid;
      expect(pid).toEqual(expect.any(Number));
      const [row] = await sql<{ application_name: string }>(
        db.url,
        'select application_name from pg_stat_activity where pid = $1',
        [pid],
      );
      expect(row?.application_name).toBe('keelson-listener');
      await sql(db.url, 'select pg_terminate_backend($1)', [pid]);
      await eventually(async () => events.includes('reconnect'));
      expect(events).toEqual(['connect', 'disconnect', 'reconnect']);
      expect(listener.backendPid).not.toBe(pid);

      await sql(db.url, `select pg_notify('test_one', 'after')`);
      await eventually(async () => received.some((n) => n.payload === 'after'));
    } finally {
      await listener.close();
    }
    expect(listener.connected).toBe(false);
  });

  it('keeps retrying while the database is unreachable, then connects', async () => {
    await using db = await testDatabase();
    // A role that may not log in yet: every attempt fails until it may.
    const role = `listener_${Date.now()}`;
    const url = new URL(db.url);
    const password = decodeURIComponent(url.password).replaceAll("'", "''");
    await sql(db.url, `create role ${role} nologin${password ? ` password '${password}'` : ''}`);
    url.username = role;
    let connects = 0;
    const listener = createListener({
      url: url.toString(),
      channels: ['test_one'],
      onNotification: () => {},
      onConnect: () => connects++,
      initialBackoffMs: 20,
      maxBackoffMs: 100,
    });
    try {
      await listener.start();
      expect(listener.connected).toBe(false);
      await sql(db.url, `alter role ${role} login`);
      await eventually(async () => listener.connected);
      expect(connects).toBe(1);
    } finally {
      await listener.close();
      await sql(db.url, `drop role if exists ${role}`).catch(() => {});
    }
  });

  it('stops reconnecting once closed', async () => {
    await using db = await testDatabase();
    const listener = createListener({ url: db.url, channels: ['test_one'], onNotification: () => {} });
    await listener.start();
    const pid = listener.backendPid;
    await listener.close();
    await eventually(async () => {
      const rows = await sql(db.url, 'select 1 from pg_stat_activity where pid = $1', [pid]);
      return rows.length === 0;
    });
    await new Promise((r) => setTimeout(r, 300));
    const [{ n }] = (await sql<{ n: number }>(
      db.url,
      `select count(*)::int as n from pg_stat_activity where application_name = 'keelson-listener' and datname = current_database()`,
    )) as [{ n: number }];
    expect(n).toBe(0);
  });
  it('drops and replaces a connection that went silent without closing (a NAT or firewall forgot it)', async () => {
    await using db = await testDatabase();
    await using proxy = await tcpProxy(db.url);
    const received: ListenerNotification[] = [];
    const events: string[] = [];
    const listener = createListener({
      url: proxy.url,
      channels: ['test_silent'],
      onNotification: (n) => received.push(n),
      onConnect: ({ reconnect }) => events.push(reconnect ? 'reconnect' : 'connect'),
      onDisconnect: () => events.push('disconnect'),
      initialBackoffMs: 20,
      heartbeatMs: 200,
    });
    try {
      await listener.start();
      proxy.silence();
      await eventually(async () => events.includes('reconnect'));
      await eventually(async () => {
        await sql(db.url, `select pg_notify('test_silent', 'after')`);
        return received.some((n) => n.payload === 'after');
      });
    } finally {
      await listener.close();
    }
  });
});
