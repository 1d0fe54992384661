/**
 * Realtime limits on the real server: subscriptions per WebSocket, connections per user (WebSockets and
 * SSE streams together) and per anonymous IP, and the largest message. Over a limit a subscription gets
 * TOO_MANY_REQUESTS and a connection is closed (1008; 1009 for an oversize message); nothing else is
 * affected, and a limit frees up again on disconnect.
 */
import { closeClient, TRPCClientError } from '@keelson/client';
import { createProduct, createUsers, eventually, startTestApi, type TestApi } from '@keelson/testing';
import { describe, expect, it } from 'vitest';
import { rawSocket } from './rawSocket.ts';

/** A listed product to watch (unknown ids are refused before a subscription starts). */
const watchable = async (api: TestApi) => (await createProduct(api.db.url, { priceCents: 100, stock: 1 })).id;

interface Sub {
  started: boolean;
  error: unknown;
  stop(): void;
}

function track(
  subscribe: (h: { onStarted(): void; onData(): void; onError(err: unknown): void }) => { unsubscribe(): void },
): Sub {
  const s: Sub = { started: false, error: null, stop: () => {} };
  const sub = subscribe({
    onStarted: () => {
      s.started = true;
    },
    onData: () => {},
    onError: (err) => {
      s.error = err;
    },
  });
  s.stop = () => sub.unsubscribe();
  return s;
}

const codeOf = (err: unknown) =>
  err instanceof TRPCClientError
    ? `${(err.data as { code?: string }).code}/${(err.data as { appCode?: string }).appCode}`
    : String(err);

describe('realtime limits', () => {
  it('caps subscriptions per WebSocket with TOO_MANY_REQUESTS, and frees a place when one stops', {
    timeout: 60_000,
  }, async () => {
    await using api = await startTestApi({ config: { WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: '3' } });
    const PRODUCT = await watchable(api);
    const client = api.newClient({ transport: 'ws' });
    const subscribe = () => track((h) => client.catalog.onStockChange.subscribe({ productIds: [PRODUCT] }, h));
    const first = [subscribe(), subscribe(), subscribe()];
    await eventually(async () => first.every((s) => s.started));
    const fourth = subscribe();
    await eventually(async () => fourth.error !== null);
    expect(codeOf(fourth.error)).toBe('TOO_MANY_REQUESTS/RATE_LIMITED');
    // The socket and its three subscriptions are untouched, and it still answers calls.
    expect(first.map((s) => s.error)).toEqual([null, null, null]);
    expect((await client.catalog.get.query({ id: PRODUCT })).id).toBe(PRODUCT);
    first[0]!.stop();
    // The stop is asynchronous on the server: a new subscription fits once it has been processed.
    await eventually(async () => {
      const again = subscribe();
      await eventually(async () => again.started || again.error !== null);
      if (again.started) return true;
      again.stop();
      return false;
    }, 10_000);
    for (const s of first) s.stop();
    await closeClient(client);
  });

  it('1,000 subscribe/unsubscribe cycles leave no watched session, slot, hub subscriber or counted subscription', {
    timeout: 120_000,
  }, async () => {
    await using api = await startTestApi({ config: { WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: '50' } });
    const PRODUCT = await watchable(api);
    const [user] = await createUsers(api.db.url, 1, { prefix: 'cycles' });
    const client = api.newClient({ token: () => user!.token, transport: 'ws' });
    const hubBefore = api.app.events.subscriberCount;
    for (let round = 0; round < 20; round++) {
      const subs = Array.from({ length: 50 }, (_, i) =>
        track((h) =>
          i % 2
            ? client.orders.onStatusChange.subscribe({}, h)
            : client.catalog.onStockChange.subscribe({ productIds: [PRODUCT] }, h),
        ),
      );
      await eventually(async () => subs.every((s) => s.started || s.error !== null), 20_000);
      expect(subs.filter((s) => s.error !== null)).toEqual([]);
      for (const s of subs) s.stop();
      await eventually(
        async () => api.app.events.subscriberCount === hubBefore && api.app.realtime.stats.watched === 0,
      );
    }
    // The connection's count is back to zero: a full 50 fit again (a leak would refuse some).
    const full = Array.from({ length: 50 }, () =>
      track((h) => client.catalog.onStockChange.subscribe({ productIds: [PRODUCT] }, h)),
    );
    await eventually(async () => full.every((s) => s.started || s.error !== null), 20_000);
    expect(full.filter((s) => s.error !== null).map((s) => codeOf(s.error))).toEqual([]);
    for (const s of full) s.stop();
    await closeClient(client);
    await eventually(async () => api.app.realtime.stats.slots === 0 && api.app.events.subscriberCount === hubBefore);
  });

  it('a subscription whose connection closes while it is being set up, or that repeats a running id, holds nothing once the connection is gone', {
    timeout: 60_000,
  }, async () => {
    // tRPC drops a stream it has not started when the socket is already closed, or when the id is taken;
    // the guard must give back the session watch and the slot anyway (found leaking 14 of 20).
    await using api = await startTestApi();
    const [user] = await createUsers(api.db.url, 1, { prefix: 'setup-close' });
    const subscribe = (id: number) =>
      JSON.stringify({ id, method: 'subscription', params: { path: 'notifications.onNew', input: { json: {} } } });
    for (let i = 0; i < 20; i++) {
      const socket = rawSocket(api.baseUrl, { query: 'connectionParams=1' });
      await socket.opened;
      socket.send(JSON.stringify({ method: 'connectionParams', data: { token: user!.token } }));
      socket.send(subscribe(1));
      // Closed at different points of the setup (session lookup, watch, hub subscription).
      await new Promise((r) => setTimeout(r, i % 5));
      await socket.close();
    }
    const duplicate = rawSocket(api.baseUrl, { headers: { authorization: `Bearer ${user!.token}` } });
    await duplicate.opened;
    for (let i = 0; i < 5; i++) duplicate.send(subscribe(7));
    await eventually(async () => api.app.realtime.stats.watched >= 1);
    await duplicate.close();
    // SSE streams aborted while they are being set up.
    const url = `${api.baseUrl}/trpc/notifications.onNew?input=${encodeURIComponent(JSON.stringify({ json: {} }))}`;
    await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const abort = new AbortController();
        const answer = fetch(url, {
          headers: { authorization: `Bearer ${user!.token}`, accept: 'text/event-stream' },
          signal: abort.signal,
        }).catch(() => null);
        await new Promise((r) => setTimeout(r, i % 5));
        abort.abort();
        await answer;
      }),
    );
    await eventually(async () => {
      const { watched, slots } = api.app.realtime.stats;
      return watched === 0 && slots === 0;
    }, 10_000);
  });

  it('caps connections per user (WebSocket + SSE) and per anonymous IP, and releases them on disconnect', {
    timeout: 60_000,
  }, async () => {
    await using api = await startTestApi({
      config: { REALTIME_MAX_CONNECTIONS_PER_USER: '2', REALTIME_MAX_CONNECTIONS_PER_IP: '2' },
    });
    const [alice, bob] = await createUsers(api.db.url, 2, { prefix: 'limit' });
    const asAlice = { headers: { authorization: `Bearer ${alice!.token}` } };

    // Alice: two WebSockets are fine, a third is closed with 1008 and the process is none the worse.
    const a1 = rawSocket(api.baseUrl, asAlice);
    const a2 = rawSocket(api.baseUrl, asAlice);
    await Promise.all([a1.opened, a2.opened]);
    expect((await a1.call('query', 'auth.me')).result?.data?.json).toMatchObject({ id: alice!.id });
    await eventually(async () => api.app.realtime.stats.slots === 2);
    const a3 = rawSocket(api.baseUrl, asAlice);
    expect(await a3.closed).toEqual({ code: 1008, reason: 'Too many connections' });
    // An SSE stream counts too: TOO_MANY_REQUESTS, not a hang.
    const aliceSse = api.newClient({ token: () => alice!.token, transport: 'sse' });
    const refused = track((h) => aliceSse.orders.onStatusChange.subscribe({}, h));
    await eventually(async () => refused.error !== null);
    expect(codeOf(refused.error)).toBe('TOO_MANY_REQUESTS/RATE_LIMITED');
    // Bob has places of his own.
    const b1 = rawSocket(api.baseUrl, { headers: { authorization: `Bearer ${bob!.token}` } });
    await b1.opened;
    expect((await b1.call('query', 'auth.me')).result?.data?.json).toMatchObject({ id: bob!.id });

    // Disconnecting gives the place back: the SSE stream now starts, and holds the place in turn.
    await a1.close();
    const accepted = track((h) => aliceSse.orders.onStatusChange.subscribe({}, h));
    await eventually(async () => accepted.started || accepted.error !== null);
    expect(accepted.error).toBeNull();
    const a4 = rawSocket(api.baseUrl, asAlice);
    expect((await a4.closed).code).toBe(1008);
    accepted.stop();
    await eventually(async () => {
      const again = rawSocket(api.baseUrl, asAlice);
      const outcome = await Promise.race([again.opened.then(() => 'open'), again.closed.then(() => 'closed')]);
      // A refused socket may open before it is closed: only a usable one counts.
      const usable = outcome === 'open' && (await again.call('query', 'auth.me').catch(() => null))?.result;
      await again.close();
      return Boolean(usable);
    }, 10_000);

    // Anonymous connections are counted per IP.
    const anon = [rawSocket(api.baseUrl), rawSocket(api.baseUrl)];
    await Promise.all(anon.map((s) => s.opened));
    await Promise.all(anon.map((s) => s.call('query', 'catalog.list', { limit: 1 })));
    const anon3 = rawSocket(api.baseUrl);
    expect((await anon3.closed).code).toBe(1008);
    await anon[0]!.close();
    await eventually(async () => {
      const again = rawSocket(api.baseUrl);
      const answer = await again.call('query', 'catalog.list', { limit: 1 }).catch(() => null);
      await again.close();
      return Boolean(answer?.result);
    }, 10_000);

    await Promise.all([a2.close(), b1.close(), anon[1]!.close(), closeClient(aliceSse)]);
    await eventually(async () => api.app.realtime.stats.slots === 0);
  });

  it('closes a socket that announces connectionParams and never sends them (it would count against no one)', {
    timeout: 60_000,
  }, async () => {
    await using api = await startTestApi();
    const silent = rawSocket(api.baseUrl, { query: 'connectionParams=1' });
    await silent.opened;
    const prompt = rawSocket(api.baseUrl, { query: 'connectionParams=1' });
    await prompt.opened;
    prompt.send(JSON.stringify({ method: 'connectionParams', data: null }));
    // Within the 10 s deadline plus slack for a loaded machine.
    expect(await silent.closed).toEqual({ code: 1008, reason: 'connectionParams not sent' });
    expect((await prompt.call('query', 'catalog.list', { limit: 1 })).result?.type).toBe('data');
    expect(prompt.ws.readyState).toBe(prompt.ws.OPEN);
    await prompt.close();
  });

  it('closes a socket that sends an oversize message with 1009, and only that one', { timeout: 60_000 }, async () => {
    await using api = await startTestApi({ config: { WS_MAX_PAYLOAD_BYTES: '1024' } });
    const big = rawSocket(api.baseUrl);
    const bystander = rawSocket(api.baseUrl);
    await Promise.all([big.opened, bystander.opened]);
    big.send(JSON.stringify({ id: 1, method: 'query', params: { path: 'catalog.list', input: 'x'.repeat(2048) } }));
    expect((await big.closed).code).toBe(1009);
    const answer = await bystander.call('query', 'catalog.list', { limit: 1 });
    expect(answer.result?.type).toBe('data');
    expect((await fetch(`${api.baseUrl}/healthz`)).status).toBe(200);
    await bystander.close();
  });
});
