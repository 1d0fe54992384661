/**
 * TRUST_PROXY with real connections from distinct loopback addresses (Linux routes all of 127.0.0.0/8 to
 * the host): 127.0.0.2 plays the proxy, 127.0.0.1 a client that reaches the API directly. A direct
 * client's forged X-Forwarded-For is ignored, over HTTP and WebSocket alike: its IP is its socket's, in
 * its session and in the per-IP throttle; through the trusted proxy, the client is the address the
 * proxy appended, not what the client wrote before it.
 */
import { request } from 'node:http';
import { rawCall, sql, startTestApi, type TestApi } from '@keelson/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';

const PROXY = '127.0.0.2';
const DIRECT = '127.0.0.1';
const PASSWORD = 'correct horse battery staple';
let counter = 0;
const newEmail = () => `proxy.${Date.now()}.${counter++}@example.test`;

/** One tRPC mutation over HTTP from `localAddress`, with the given X-Forwarded-For. */
function mutateOverHttp(
  baseUrl: string,
  opts: { localAddress: string; forwardedFor: string },
  call: { path: string; input: unknown },
): Promise<{ status: number; data: { token?: string } | undefined; text: string }> {
  const body = JSON.stringify({ json: call.input });
  return new Promise((resolve, reject) => {
    const req = request(
      `${baseUrl}/trpc/${call.path}`,
      {
        method: 'POST',
        localAddress: opts.localAddress,
        headers: { 'content-type': 'application/json', 'x-forwarded-for': opts.forwardedFor },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c));
        res.on('end', () => {
          const parsed = JSON.parse(text) as { result?: { data: { json: { token?: string } } } };
          resolve({ status: res.statusCode ?? 0, data: parsed.result?.data.json, text });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** `auth.signUp` then `auth.logIn` over HTTP from `localAddress`; resolves with the session token. */
async function signUpOverHttp(baseUrl: string, opts: { localAddress: string; forwardedFor: string }): Promise<string> {
  const account = { email: newEmail(), password: PASSWORD };
  const signedUp = await mutateOverHttp(baseUrl, opts, { path: 'auth.signUp', input: { ...account, name: 'Ada' } });
  if (signedUp.status !== 200) throw new Error(`sign-up answered ${signedUp.status}: ${signedUp.text}`);
  const loggedIn = await mutateOverHttp(baseUrl, opts, { path: 'auth.logIn', input: account });
  if (loggedIn.status !== 200 || !loggedIn.data?.token) {
    throw new Error(`log-in answered ${loggedIn.status}: ${loggedIn.text}`);
  }
  return loggedIn.data.token;
}

/** The same over a WebSocket whose upgrade comes from `localAddress` (tRPC reads the raw upgrade request). */
function signUpOverWebSocket(baseUrl: string, opts: { localAddress: string; forwardedFor: string }): Promise<string> {
  const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/trpc`, {
    localAddress: opts.localAddress,
    headers: { 'x-forwarded-for': opts.forwardedFor },
  });
  const account = { email: newEmail(), password: PASSWORD };
  return new Promise<string>((resolve, reject) => {
    ws.on('error', reject);
    ws.on('open', () => {
      const input = { json: { ...account, name: 'Ada' } };
      ws.send(JSON.stringify({ id: 1, method: 'mutation', params: { path: 'auth.signUp', input } }));
    });
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString()) as { id?: number; result?: { data?: { json?: { token?: string } } } };
      if (message.id === 1 && message.result) {
        ws.send(
          JSON.stringify({ id: 2, method: 'mutation', params: { path: 'auth.logIn', input: { json: account } } }),
        );
        return;
      }
      const token = message.id === 2 ? message.result?.data?.json?.token : undefined;
      if (token) resolve(token);
      else reject(new Error(`sign-up and log-in over WebSocket answered ${data.toString()}`));
    });
  }).finally(() => ws.close());
}

/** The IP the API recorded for the session of `token`. */
async function sessionIp(baseUrl: string, token: string): Promise<string | null> {
  const res = await rawCall(baseUrl, {
    path: 'auth.sessions.list',
    type: 'query',
    headers: { authorization: `Bearer ${token}` },
  });
  return (res.data as { ip: string | null }[])[0]?.ip ?? null;
}

/** The keys the sign-up per-IP throttle has counted so far. */
async function signUpThrottleKeys(url: string): Promise<string[]> {
  const rows = await sql<{ key: string }>(url, `select key from auth_throttle where bucket = 'signup:ip' order by key`);
  return rows.map((r) => r.key);
}

describe('TRUST_PROXY with the proxy named by address', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi({ config: { TRUST_PROXY: PROXY } });
  });
  afterAll(() => api?.close());

  it('ignores the X-Forwarded-For of a client that connects directly, over HTTP and WebSocket', async () => {
    const forged = { localAddress: DIRECT, forwardedFor: '203.0.113.66' };
    expect(await sessionIp(api.baseUrl, await signUpOverHttp(api.baseUrl, forged))).toBe(DIRECT);
    expect(await sessionIp(api.baseUrl, await signUpOverWebSocket(api.baseUrl, forged))).toBe(DIRECT);
    // The per-IP limit counted the socket's address, never the forged one.
    expect(await signUpThrottleKeys(api.db.url)).toEqual([DIRECT]);
  });

  it('takes the client from the trusted proxy, ignoring what the client itself wrote before it', async () => {
    // What nginx sends for a client at 198.51.100.7 that wrote its own X-Forwarded-For: the forged
    // entry first, then the address nginx saw.
    const viaProxy = { localAddress: PROXY, forwardedFor: '203.0.113.66, 198.51.100.7' };
    expect(await sessionIp(api.baseUrl, await signUpOverHttp(api.baseUrl, viaProxy))).toBe('198.51.100.7');
    const wsViaProxy = { localAddress: PROXY, forwardedFor: '203.0.113.66, 198.51.100.8' };
    expect(await sessionIp(api.baseUrl, await signUpOverWebSocket(api.baseUrl, wsViaProxy))).toBe('198.51.100.8');
    expect(await signUpThrottleKeys(api.db.url)).not.toContain('203.0.113.66');
    expect(await signUpThrottleKeys(api.db.url)).toEqual(expect.arrayContaining(['198.51.100.7', '198.51.100.8']));
  });
});

describe('TRUST_PROXY as a hop count', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi({ config: { TRUST_PROXY: '1' } });
  });
  afterAll(() => api?.close());

  it('believes only the entry the one trusted hop appended', async () => {
    const viaProxy = { localAddress: PROXY, forwardedFor: '203.0.113.66, 198.51.100.9' };
    expect(await sessionIp(api.baseUrl, await signUpOverHttp(api.baseUrl, viaProxy))).toBe('198.51.100.9');
    expect(await sessionIp(api.baseUrl, await signUpOverWebSocket(api.baseUrl, viaProxy))).toBe('198.51.100.9');
  });
});

describe('TRUST_PROXY unset', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi();
  });
  afterAll(() => api?.close());

  it('trusts nobody: even the would-be proxy is the client', async () => {
    const viaProxy = { localAddress: PROXY, forwardedFor: '198.51.100.10' };
    expect(await sessionIp(api.baseUrl, await signUpOverHttp(api.baseUrl, viaProxy))).toBe(PROXY);
    expect(await sessionIp(api.baseUrl, await signUpOverWebSocket(api.baseUrl, viaProxy))).toBe(PROXY);
  });
});
