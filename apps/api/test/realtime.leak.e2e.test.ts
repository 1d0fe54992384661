/**
 * 1,000 subscribe/unsubscribe cycles over real WebSockets against the real API in a process of its own
 * (`fixtures/introspectedApi.ts`, run with --expose-gc) leave it as they found it: no subscriber in the
 * event hub or the dashboard ticker, the same listeners on the process, the HTTP and WebSocket servers
 * and the connection that carried the cycles, no more handles, and the heap within 10 MB of where it was.
 * The baseline is taken after a warm-up round, so lazily built things (JIT, caches, pools) are in it.
 */
import { request } from 'node:http';
import { closeClient, createClient, type KeelsonClient } from '@keelson/client';
import { createProduct, createUsers, eventually, freePort, startProcess, testDatabase } from '@keelson/testing';
import { describe, expect, it } from 'vitest';

interface State {
  resources: Record<string, number>;
  heapUsed: number;
  dbPoolConnections: number | null;
  hubSubscribers: number;
  dashboardSubscribers: number;
  dashboardActive: boolean;
  listeners: Record<'process' | 'server' | 'websocketServer', Record<string, number>>;
  sockets: { ws: Record<string, number>; tcp: Record<string, number> }[];
}

/** The API's own report, over a connection of its own that closes after the answer (no keep-alive). */
function stateOf(port: number): Promise<State> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/__test/state', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve(JSON.parse(body) as State));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The database pool opens and closes its connections (and their idle timers) on its own schedule. */
const POOL_MAX = 3;

/** Handles of each type beyond the baseline that the database pool alone could explain. */
const extraHandles = (before: State, after: State) =>
  Object.entries(after.resources)
    .map(([type, n]) => [type, n - (before.resources[type] ?? 0)] as const)
    .filter(([, extra]) => extra > POOL_MAX);

const MiB = 1024 * 1024;

describe('realtime leak check', () => {
  it('1,000 subscribe/unsubscribe cycles over WebSockets leave the API at baseline', { timeout: 180_000 }, async () => {
    await using db = await testDatabase();
    const product = await createProduct(db.url, { priceCents: 100, stock: 10 });
    const [admin] = await createUsers(db.url, 1, { role: 'admin', prefix: 'leak' });
    const port = await freePort();
    await using api = startProcess(
      'apps/api/test/fixtures/introspectedApi.ts',
      {
        DATABASE_URL: db.url,
        PORT: String(port),
        LOG_LEVEL: 'info',
        DATABASE_POOL_MAX: String(POOL_MAX),
        DASHBOARD_INTERVAL_MS: '500',
      },
      { nodeArgs: ['--expose-gc'] },
    );
    await api.waitFor(/api listening/);
    const newClient = () => createClient({ url: `http://127.0.0.1:${port}/trpc`, token: () => admin!.token });

    /** Subscribes, waits for the server to confirm, unsubscribes: one of three kinds in turn. */
    const cycle = (client: KeelsonClient, i: number) =>
      new Promise<void>((resolve, reject) => {
        const handlers = {
          onStarted: () => {
            sub.unsubscribe();
            resolve();
          },
          onError: reject,
        };
        const sub =
          i % 3 === 0
            ? client.orders.onStatusChange.subscribe({}, handlers)
            : i % 3 === 1
              ? client.catalog.onStockChange.subscribe({ productIds: [product.id] }, handlers)
              : client.dashboard.live.subscribe(undefined, handlers);
      });

    /** `n` cycles on the long-lived connection, and `fresh` more each on a connection of its own. */
    const round = async (conn: KeelsonClient, n: number, fresh: number) => {
      for (let i = 0; i < n; i++) await cycle(conn, i);
      for (let i = 0; i < fresh; i++) {
        const c = newClient();
        try {
          await cycle(c, i);
        } finally {
          await closeClient(c);
        }
      }
    };

    /** Every cycle's subscription has been torn down on the server; only the anchor and its socket remain. */
    const settled = (s: State) =>
      s.hubSubscribers === 1 && s.dashboardSubscribers === 0 && !s.dashboardActive && s.sockets.length === 1;

    const conn = newClient();
    // A subscription held open throughout, on the connection that carries the cycles: the client would
    // otherwise close an idle socket after 10 s, and a long-lived subscription must survive the churn.
    const anchor = conn.orders.onStatusChange.subscribe({}, { onData: () => {} });
    try {
      await round(conn, 150, 10);
      const baseline = await eventually(async () => {
        const s = await stateOf(port);
        return settled(s) ? s : null;
      }, 20_000);

      await round(conn, 1_000, 100);
      // Torn down, the same listeners everywhere, no handles beyond what the pool may hold: waited for,
      // since the server finishes a subscription after the client has moved on.
      const after = await eventually(async () => {
        const s = await stateOf(port);
        const same =
          settled(s) &&
          JSON.stringify(s.listeners) === JSON.stringify(baseline.listeners) &&
          JSON.stringify(s.sockets) === JSON.stringify(baseline.sockets) &&
          extraHandles(baseline, s).length === 0;
        return same ? s : null;
      }, 30_000).catch(async () => stateOf(port));

      // The anchor's alone.
      expect(after.hubSubscribers).toBe(1);
      expect(after.dashboardSubscribers).toBe(0);
      expect(after.dashboardActive).toBe(false);
      expect(after.listeners).toEqual(baseline.listeners);
      expect(after.sockets).toEqual(baseline.sockets);
      expect(extraHandles(baseline, after)).toEqual([]);
      expect(after.heapUsed - baseline.heapUsed).toBeLessThan(10 * MiB);
      console.info(
        `leak check: heap ${(baseline.heapUsed / MiB).toFixed(1)} → ${(after.heapUsed / MiB).toFixed(1)} MiB; handles`,
        baseline.resources,
        '→',
        after.resources,
      );
    } finally {
      anchor.unsubscribe();
      await closeClient(conn);
    }
    // The anchor and its connection gone too: nothing subscribed, no WebSocket left.
    const last = await eventually(async () => {
      const s = await stateOf(port);
      return s.sockets.length === 0 && s.hubSubscribers === 0 ? s : null;
    }, 20_000);
    expect(last.dashboardSubscribers).toBe(0);
  });
});
