/**
 * Hostile WebSocket input against a real API process: whatever arrives, the process keeps answering
 * HTTP and its other sockets keep working; bad input gets an error message (or, for what the
 * WebSocket protocol itself forbids, a close of that socket alone), never a crash.
 *
 * Replays two advisories:
 * - CVE-2025-43855 (GHSA-pj3v-9cm8-gvj8, @trpc/server 11.0.0–11.1.0, fixed in 11.1.1): connectionParams
 *   of an unexpected shape threw outside any handler and brought the server down.
 * - CVE-2024-37890 (GHSA-3h5v-q93c-6h6q, ws < 8.17.1): an upgrade request with more headers than
 *   `server.maxHeadersCount` lost its Sec-WebSocket-Key and crashed ws' handshake.
 * The installed versions (checked below, and a downgrade fails this test) are @trpc/server 11.22.1 and
 * ws 8.23.0, both patched; the replay checks the patches hold in Keelson's own wiring. On Node 24 the
 * header-count attack no longer reaches ws at all (Node answers 431), so the missing-key handshake it
 * used to produce is sent as well.
 *
 * Also the text rule (no NUL, no lone surrogate) on WebSocket inputs and connectionParams, and malformed
 * credentials on the upgrade (no session, never an error).
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort, repoRoot, sql, startProcess, testDatabase } from '@keelson/testing';
import { describe, expect, it } from 'vitest';
import { type RawSocket, rawSocket, type TrpcAnswer } from './rawSocket.ts';

const installedVersion = (pkg: string) =>
  (
    JSON.parse(readFileSync(path.join(repoRoot, 'apps/api/node_modules', pkg, 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;

/** `a` ≥ `b` for plain x.y.z versions. */
const atLeast = (a: string, b: string) => {
  const [x, y] = [a, b].map((v) => v.split('.').map(Number));
  for (let i = 0; i < 3; i++) if (x![i] !== y![i]) return x![i]! > y![i]!;
  return true;
};

/** Waits until the socket has received `n` messages in all, or closed. */
async function received(socket: RawSocket, n: number, timeoutMs = 10_000): Promise<unknown[]> {
  const deadline = Date.now() + timeoutMs;
  while (socket.messages.length < n && socket.ws.readyState <= 1 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  return socket.messages;
}

const errorsOf = (messages: unknown[]) =>
  messages.filter((m): m is TrpcAnswer => typeof m === 'object' && m !== null && 'error' in m);

/**
 * An upgrade request whose Sec-WebSocket-Key comes after `filler` headers (CVE-2024-37890), or, with
 * `filler: null`, has none at all: what a truncated header list used to look like to ws.
 */
function upgradeWithManyHeaders(port: number, filler: number | null): Promise<string> {
  const lines = [
    'GET /trpc HTTP/1.1',
    `Host: 127.0.0.1:${port}`,
    'Connection: Upgrade',
    'Upgrade: websocket',
    'Sec-WebSocket-Version: 13',
    // Tiny repeated headers pass maxHeadersCount while staying under Node's 16 KiB header limit.
    ...(filler === null
      ? []
      : [...Array.from({ length: filler }, () => 'x: a'), 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==']),
  ];
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(`${lines.join('\r\n')}\r\n\r\n`));
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk.toString();
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve(answer));
    socket.setTimeout(10_000, () => socket.destroy());
  });
}

describe('hostile WebSocket input', () => {
  it('runs patched @trpc/server and ws', () => {
    expect(atLeast(installedVersion('@trpc/server'), '11.1.1')).toBe(true);
    expect(atLeast(installedVersion('ws'), '8.17.1')).toBe(true);
  });

  it('survives malformed frames, bad connectionParams and an oversized header list', { timeout: 90_000 }, async () => {
    await using db = await testDatabase();
    const port = await freePort();
    await using api = startProcess('apps/api/src/main.ts', {
      DATABASE_URL: db.url,
      PORT: String(port),
      LOG_LEVEL: 'info',
    });
    await api.waitFor(/api listening/);
    const base = `http://127.0.0.1:${port}`;
    // Opened first and used last: it must not notice anything.
    const bystander = rawSocket(base);
    await bystander.opened;

    // connectionParams (CVE-2025-43855): wrong shapes get an error and that socket is closed.
    const badParams = [
      '{not json',
      JSON.stringify({ method: 'connectionParams', data: { token: 123 } }),
      JSON.stringify({ method: 'connectionParams', data: { token: { nested: true } } }),
      JSON.stringify({ method: 'connectionParams', data: 'a string' }),
      JSON.stringify({ method: 'connectionParams', data: [1, 2, 3] }),
      JSON.stringify(['not', 'an', 'object']),
      'null',
    ];
    for (const frame of badParams) {
      const s = rawSocket(base, { query: 'connectionParams=1' });
      await s.opened;
      s.send(frame);
      await s.closed;
      const [error] = errorsOf(s.messages);
      expect(error?.error?.json?.data.code, frame).toBe('PARSE_ERROR');
    }

    // Valid connectionParams, then a second one and a torrent of malformed calls on the same socket.
    const s = rawSocket(base, { query: 'connectionParams=1' });
    await s.opened;
    s.send(JSON.stringify({ method: 'connectionParams', data: { token: 'not-a-real-session-token' } }));
    const frames: (string | Buffer)[] = [
      JSON.stringify({ method: 'connectionParams', data: { token: 'a second one' } }),
      '{{{',
      '',
      'null',
      '42',
      '"a string"',
      '[]',
      JSON.stringify({ id: null, method: 'query', params: { path: 'catalog.list' } }),
      JSON.stringify({ id: 1, method: 'nonsense', params: {} }),
      JSON.stringify({ id: 2, method: 'query' }),
      JSON.stringify({ id: 3, method: 'query', params: null }),
      JSON.stringify({ id: { an: 'object' }, method: 'query', params: { path: 'catalog.list' } }),
      JSON.stringify({ id: 1e308, method: 'query', params: { path: 'catalog.list', input: { json: {} } } }),
      JSON.stringify({ id: 'x'.repeat(10_000), method: 'query', params: { path: 'catalog.list' } }),
      JSON.stringify({ id: 4, method: 'query', params: { path: '__proto__' } }),
      JSON.stringify({ id: 5, method: 'query', params: { path: 'constructor' } }),
      JSON.stringify({ id: 6, method: 'query', params: { path: 'catalog.list', input: { json: { limit: 'many' } } } }),
      JSON.stringify({
        id: 7,
        method: 'query',
        params: { path: 'catalog.list', input: { json: { __proto__: { x: 1 } } } },
      }),
      JSON.stringify({
        id: 8,
        method: 'query',
        params: { path: 'catalog.list', input: { json: {}, meta: 'nonsense' } },
      }),
      JSON.stringify({ id: 9, method: 'subscription.stop' }),
      JSON.stringify({ id: 'never-started', method: 'subscription.stop' }),
      JSON.stringify({
        id: 10,
        method: 'subscription',
        params: { path: 'catalog.onStockChange', input: { json: { productIds: 'nope' } } },
      }),
      JSON.stringify({
        id: 11,
        method: 'subscription',
        params: { path: 'orders.onStatusChange', input: { json: {} } },
      }),
      JSON.stringify({ id: 12, method: 'mutation', params: { path: 'catalog.onStockChange', input: { json: {} } } }),
      JSON.stringify(
        Array.from({ length: 500 }, (_, i) => ({ id: 100 + i, method: 'query', params: { path: 'catalog.list' } })),
      ),
      Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0xff]),
      Buffer.from(JSON.stringify({ id: 13, method: 'query', params: { path: 'catalog.list', input: { json: {} } } })),
    ];
    for (const frame of frames) s.send(frame, { binary: Buffer.isBuffer(frame) });
    // Every call with a usable id gets an answer; the socket is still open and still works.
    await received(s, 20);
    const answer = await s.call('query', 'catalog.list', { limit: 1 });
    expect(answer.result?.type).toBe('data');
    expect(s.ws.readyState).toBe(s.ws.OPEN);
    const byId = new Map(
      s.messages.filter((m): m is TrpcAnswer => typeof m === 'object' && m !== null && 'id' in m).map((m) => [m.id, m]),
    );
    // Bad input and unauthenticated subscriptions are refused with typed errors.
    expect(byId.get(6)?.error?.json?.data.code).toBe('BAD_REQUEST');
    expect(byId.get(10)?.error?.json?.data.code).toBe('BAD_REQUEST');
    expect(byId.get(11)?.error?.json?.data.code).toBe('UNAUTHORIZED');
    // The batch above TRPC_MAX_BATCH_SIZE is refused call by call, not run.
    expect(byId.get(100)?.error?.json?.data.code).toBe('BAD_REQUEST');
    // Nothing leaked internals: no SQL, file paths or stack frames in any error sent.
    const leaks = s.messages
      .map((m) => JSON.stringify(m))
      .filter((m) => /\bat .+:\d+:\d+|node_modules|\bselect\b.+\bfrom\b/i.test(m));
    expect(leaks).toEqual([]);

    // A frame of 60,000 calls (under 1 MB) is no client's batch: answering each would cost ~15 MB and
    // about a second of CPU, so its socket is closed (1008) instead, at once.
    const flood = rawSocket(base);
    await flood.opened;
    const started = performance.now();
    flood.send(JSON.stringify(Array.from({ length: 60_000 }, (_, i) => ({ id: i }))));
    expect((await flood.closed).code).toBe(1008);
    expect(performance.now() - started).toBeLessThan(2_000);

    // A text frame that is not UTF-8 breaks the WebSocket protocol: ws closes that socket (1007).
    const invalidUtf8 = rawSocket(base);
    await invalidUtf8.opened;
    invalidUtf8.send(Buffer.from([0xff, 0xfe, 0xfd]));
    expect((await invalidUtf8.closed).code).toBe(1007);

    // CVE-2024-37890. Node 24 itself now refuses a header list longer than maxHeadersCount (431) where
    // older versions dropped the rest; and an upgrade whose key was dropped gets ws' 400, not a crash.
    expect(await upgradeWithManyHeaders(port, 2_100)).toMatch(/^HTTP\/1\.1 431 /);
    expect(await upgradeWithManyHeaders(port, null)).toMatch(/^HTTP\/1\.1 400 /);

    // The process is alive, answers HTTP, and the first socket never noticed.
    expect(api.child.exitCode).toBeNull();
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await bystander.call('query', 'catalog.list', { limit: 1 })).result?.type).toBe('data');
    expect(api.output()).not.toMatch(/uncaught|unhandled rejection|FATAL/i);
    await Promise.all([s.close(), bystander.close()]);
    const { code } = await api.stop('SIGTERM');
    expect(code).toBe(0);
  });

  it('applies the text rule to WebSocket inputs and connectionParams, and treats a malformed credential as none', {
    timeout: 90_000,
  }, async () => {
    await using db = await testDatabase();
    const port = await freePort();
    await using api = startProcess('apps/api/src/main.ts', {
      DATABASE_URL: db.url,
      PORT: String(port),
      LOG_LEVEL: 'info',
    });
    await api.waitFor(/api listening/);
    const base = `http://127.0.0.1:${port}`;

    // Inputs of queries, mutations and subscriptions: BAD_REQUEST naming the field; the socket lives on.
    const s = rawSocket(base);
    await s.opened;
    const issuesOf = (answer: TrpcAnswer) =>
      (answer.error?.json?.data as { issues?: { path: unknown[] }[] } | undefined)?.issues?.map((i) => i.path);
    const calls = [
      ['subscription', 'catalog.onStockChange', { productIds: ['\u0000'] }, ['productIds', 0]],
      ['subscription', 'orders.onStatusChange', { orderId: '\ud800' }, ['orderId']],
      ['query', 'catalog.list', { q: 'oak\u0000' }, ['q']],
      ['mutation', 'auth.signUp', { email: 'ws@shop.test', password: 'a long passphrase', name: '\udc00' }, ['name']],
    ] as const;
    for (const [method, path, input, field] of calls) {
      const answer = await s.call(method, path, input);
      expect(answer.error?.json?.data, path).toMatchObject({ code: 'BAD_REQUEST', appCode: 'VALIDATION_FAILED' });
      expect(issuesOf(answer)).toContainEqual(field);
    }
    expect(s.ws.readyState).toBe(s.ws.OPEN);
    expect((await s.call('query', 'catalog.list', { limit: 1 })).result?.type).toBe('data');

    // connectionParams no procedure parses follow the same rule: BAD_REQUEST, then that socket closes.
    for (const data of [{ token: 'a\u0000b' }, { 'k\u0000': 'v' }, { token: '\ud800' }]) {
      const p = rawSocket(base, { query: 'connectionParams=1' });
      await p.opened;
      p.send(JSON.stringify({ method: 'connectionParams', data }));
      await p.closed;
      const [error] = errorsOf(p.messages);
      expect(error?.error?.json?.data).toMatchObject({ code: 'BAD_REQUEST', appCode: 'VALIDATION_FAILED' });
    }

    // A malformed cookie or bearer header on the upgrade is no session: the socket opens, anonymous.
    for (const headers of [{ cookie: 'keelson_session=%%%' }, { authorization: 'Bearer %%%' }] as Record<
      string,
      string
    >[]) {
      const anon = rawSocket(base, { headers });
      await anon.opened;
      expect((await anon.call('query', 'auth.me')).result?.data?.json).toBeNull();
      const refused = await anon.call('subscription', 'notifications.onNew', {});
      expect(refused.error?.json?.data).toMatchObject({ code: 'UNAUTHORIZED', appCode: 'UNAUTHENTICATED' });
      await anon.close();
    }

    // An upgrade whose Host names no host is refused before the handshake.
    const badHost = await new Promise<string>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () =>
        socket.write(
          [
            'GET /trpc HTTP/1.1',
            'Host: a b',
            'Connection: Upgrade',
            'Upgrade: websocket',
            'Sec-WebSocket-Version: 13',
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
            '',
            '',
          ].join('\r\n'),
        ),
      );
      let answer = '';
      socket.on('data', (chunk) => {
        answer += chunk.toString();
      });
      socket.on('error', () => {});
      socket.on('close', () => resolve(answer));
      socket.setTimeout(10_000, () => socket.destroy());
    });
    expect(badHost).toMatch(/^HTTP\/1\.1 400 /);

    expect(await sql(db.url, 'select count(*)::int as n from app_user')).toEqual([{ n: 0 }]);
    expect(api.child.exitCode).toBeNull();
    expect(api.output()).not.toMatch(/uncaught|unhandled rejection|FATAL|"level":50/i);
    await s.close();
    const { code } = await api.stop('SIGTERM');
    expect(code).toBe(0);
  });
});
