/**
 * A stopping API process (SIGTERM) hands its realtime clients over: WebSockets get tRPC's reconnect
 * notice and then close 1001 (going away); SSE streams end with SHUTTING_DOWN (503, a code EventSource
 * clients retry). A @keelson/client subscriber behind a load balancer reconnects to the other process
 * and resumes from its last event id: every event arrives, once, in order.
 */
import net from 'node:net';
import { closeClient, createClient } from '@keelson/client';
import { createProduct, createUsers, eventually, freePort, sql, startProcess, testDatabase } from '@keelson/testing';
import { describe, expect, it } from 'vitest';
import { rawSocket } from './rawSocket.ts';

/** A TCP load balancer: each new connection goes to whichever port `target()` names at that moment. */
async function startBalancer(target: () => number) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target(), '127.0.0.1');
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.pipe(upstream).pipe(client);
    for (const s of [client, upstream]) {
      s.on('error', drop);
      s.on('close', drop);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address !== 'object') throw new Error('balancer is not listening');
  return {
    port: address.port,
    [Symbol.asyncDispose]: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Reads an SSE response until the server ends it. */
async function readStream(res: Response, onChunk: (text: string) => void): Promise<string> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text;
    text += decoder.decode(value, { stream: true });
    onChunk(text);
  }
}

describe('realtime on shutdown', () => {
  it('tells WebSocket clients to reconnect, closes 1001, ends SSE streams, and a client resumes on the other process', {
    timeout: 120_000,
  }, async () => {
    await using db = await testDatabase();
    const product = await createProduct(db.url, { priceCents: 100, stock: 100 });
    const [admin] = await createUsers(db.url, 1, { role: 'admin', prefix: 'shutdown' });
    const [portA, portB] = [await freePort(), await freePort()];
    const env = (port: number) => ({ DATABASE_URL: db.url, PORT: String(port), LOG_LEVEL: 'info' });
    await using procA = startProcess('apps/api/src/main.ts', env(portA));
    await using procB = startProcess('apps/api/src/main.ts', env(portB));
    await Promise.all([procA.waitFor(/api listening/), procB.waitFor(/api listening/)]);
    let target = portA;
    await using balancer = await startBalancer(() => target);

    const adminOnB = createClient({ url: `http://127.0.0.1:${portB}/trpc`, token: () => admin!.token });
    const subscriber = createClient({ url: `http://127.0.0.1:${balancer.port}/trpc` });
    try {
      const start = String(
        (await sql<{ id: string | null }>(db.url, 'select max(id)::text as id from app_event'))[0]?.id ?? '0',
      );
      const stocks: number[] = [];
      const errors: unknown[] = [];
      let starts = 0;
      const sub = subscriber.catalog.onStockChange.subscribe(
        { productIds: [product.id], lastEventId: start },
        {
          onStarted: () => {
            starts++;
          },
          onData: ({ data }) => stocks.push(data.stock),
          onError: (err) => errors.push(err),
        },
      );
      await eventually(async () => starts === 1);
      await adminOnB.catalog.restock.mutate({ productId: product.id, delta: 1 });
      await eventually(async () => stocks.length === 1, 10_000);

      // Watchers straight on A: a raw WebSocket and a raw SSE stream.
      const raw = rawSocket(`http://127.0.0.1:${portA}`);
      await raw.opened;
      const input = encodeURIComponent(JSON.stringify({ json: { productIds: [product.id] } }));
      const sse = await fetch(`http://127.0.0.1:${portA}/trpc/catalog.onStockChange?input=${input}`, {
        headers: { accept: 'text/event-stream' },
      });
      expect(sse.status).toBe(200);
      let sseConnected = false;
      const sseText = readStream(sse, (text) => {
        sseConnected ||= text.includes('event: connected');
      });
      await eventually(async () => sseConnected);

      // The balancer stops sending new connections to A, then A is stopped. Events keep happening on B
      // while the subscriber is between processes.
      target = portB;
      const stopping = procA.stop('SIGTERM');
      await adminOnB.catalog.restock.mutate({ productId: product.id, delta: 1 });
      await adminOnB.catalog.restock.mutate({ productId: product.id, delta: 1 });
      const stopped = await stopping;
      expect(stopped.code).toBe(0);

      // The raw socket heard tRPC's reconnect notice, then "going away".
      expect(await raw.closed).toEqual({ code: 1001, reason: 'Server shutting down' });
      expect(raw.messages).toEqual([{ id: null, method: 'reconnect' }]);
      // The SSE stream was ended by the server with a retryable error, not cut.
      const text = await sseText;
      // The stream told the client to expect keep-alive pings (and to reconnect when they stop coming).
      expect(text).toContain('"reconnectAfterInactivityMs":40000');
      expect(text).toContain('event: serialized-error');
      expect(text).toContain('SHUTTING_DOWN');
      expect(text).toContain('SERVICE_UNAVAILABLE');

      // The subscriber is on B now, resumed from its last id: nothing lost, nothing twice, in order.
      await adminOnB.catalog.restock.mutate({ productId: product.id, delta: 1 });
      await eventually(async () => stocks.length >= 4, 20_000);
      expect(stocks).toEqual([101, 102, 103, 104]);
      expect(starts).toBeGreaterThanOrEqual(2);
      expect(errors).toEqual([]);
      sub.unsubscribe();
    } finally {
      await Promise.all([closeClient(subscriber), closeClient(adminOnB)]);
    }
  });
});
