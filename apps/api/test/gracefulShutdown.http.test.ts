/**
 * `app.stop()` as SIGTERM runs it (apps/api/src/main.ts): unready but serving through the drain delay,
 * requests in flight answered (with `Connection: close`), and only what still runs after the grace cut,
 * WebSockets whose client never answers included. A request is held in flight by a lock on the row of the
 * user it updates (`lockRow`).
 */
import { connect, type Socket } from 'node:net';
import { createUsers, lockRow, startTestApi } from '@keelson/testing';
import { describe, expect, it } from 'vitest';

function updateProfile(baseUrl: string, token: string) {
  return fetch(`${baseUrl}/trpc/account.updateProfile`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ json: { name: 'Still here' } }),
  });
}

/** A WebSocket upgrade whose client then never reads again: it cannot answer a close frame. */
async function sleepingWebSocket(baseUrl: string): Promise<Socket> {
  const { port } = new URL(baseUrl);
  const socket = connect(Number(port), '127.0.0.1');
  socket.on('error', () => {});
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(
    [
      'GET /trpc HTTP/1.1',
      `Host: 127.0.0.1:${port}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      'Sec-WebSocket-Version: 13',
      '',
      '',
    ].join('\r\n'),
  );
  const head = await new Promise<string>((resolve) => socket.once('data', (b: Buffer) => resolve(b.toString())));
  expect(head).toMatch(/^HTTP\/1\.1 101/);
  socket.pause();
  return socket;
}

describe('graceful shutdown', () => {
  it('stays up but unready through the drain delay, then answers the request in flight with Connection: close', async () => {
    await using api = await startTestApi({
      config: { SHUTDOWN_DRAIN_DELAY_MS: '400', HTTP_SHUTDOWN_GRACE_MS: '5000' },
    });
    const [user] = await createUsers(api.db.url, 1);
    const lock = await lockRow(api.db.url, { table: 'app_user', id: user!.id });
    const inFlight = updateProfile(api.baseUrl, user!.token);
    await new Promise((r) => setTimeout(r, 100));
    const stopping = api.app.stop();

    // Draining: a load balancer's probe sees 503, a request that still arrives is served.
    const ready = await fetch(`${api.baseUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'shutting down' });
    const served = await fetch(`${api.baseUrl}/healthz`);
    expect(served.status).toBe(200);
    expect(served.headers.get('connection')).toBe('close');

    // Past the drain delay the request is still held; once the lock goes it completes, and is answered.
    await new Promise((r) => setTimeout(r, 500));
    await lock.release();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(res.headers.get('connection')).toBe('close');
    expect(await stopping).toEqual({ cut: 0 });
    await expect(fetch(`${api.baseUrl}/healthz`)).rejects.toThrow();
  });

  it('cuts only what still runs after the grace, a WebSocket that never answers included', async () => {
    await using api = await startTestApi({ config: { HTTP_SHUTDOWN_GRACE_MS: '300' } });
    const [user] = await createUsers(api.db.url, 1);
    const lock = await lockRow(api.db.url, { table: 'app_user', id: user!.id });
    const socket = await sleepingWebSocket(api.baseUrl);
    try {
      const inFlight = updateProfile(api.baseUrl, user!.token).then(
        (r) => r.status,
        () => 'cut',
      );
      await new Promise((r) => setTimeout(r, 100));
      const started = performance.now();
      const { cut } = await api.app.stop();
      // ws would wait 30 s for the sleeping client's close frame.
      expect(performance.now() - started).toBeLessThan(3_000);
      expect(cut).toBe(1);
      expect(await inFlight).toBe('cut');
    } finally {
      socket.destroy();
      await lock.release();
    }
  });
});
