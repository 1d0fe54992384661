/**
 * The realtime and tRPC plugins on a bare Fastify of their own (with the access-log plugin they need
 * for `app.metrics`), on a real database: what each adds to the app, and what it refuses or answers.
 */

import { createApiMetrics } from '@keelson/metrics';
import { createServices } from '@keelson/services';
import { testConfig, testLogger } from '@keelson/testing';
import { useTestOrm } from '@keelson/testing/database';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import accessLog from '../src/plugins/accessLog.ts';
import realtime from '../src/plugins/realtime.ts';
import { trpc } from '../src/plugins/trpc.ts';

describe('realtime and tRPC plugins', () => {
  const t = useTestOrm();

  const appWith = async (opts: { trpc: boolean }) => {
    const config = testConfig({ DATABASE_URL: t.db.url, ALLOWED_ORIGINS: 'http://shop.test' });
    const { catalogCache, typing } = createServices({ config, orm: t.orm });
    const logger = testLogger();
    const app = Fastify({ loggerInstance: logger });
    await app.register(accessLog, { metrics: createApiMetrics(), orm: t.orm });
    await app.register(realtime, { config, orm: t.orm, logger, catalogCache, typing });
    if (opts.trpc) {
      await app.register(trpc, { config, orm: t.orm, logger, catalogCache, typing, clientIp: () => '127.0.0.1' });
    } else {
      app.get('/ws', { websocket: true }, (socket) => socket.close());
    }
    await app.ready();
    return app;
  };

  it('starts the hub on ready, refuses upgrades from other origins, and shuts realtime down on close', async () => {
    const app = await appWith({ trpc: false });
    expect(app.events.listener.connected).toBe(true);
    expect(app.realtime.shuttingDown).toBe(false);
    expect(app.dashboard.subscriberCount).toBe(0);
    const refused = await app.inject({
      url: '/ws',
      headers: { connection: 'upgrade', upgrade: 'websocket', origin: 'https://evil.test' },
    });
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ appCode: 'ORIGIN_NOT_ALLOWED' });
    await app.close();
    expect(app.realtime.shuttingDown).toBe(true);
    expect(app.events.listener.connected).toBe(false);
  });

  it('serves the router at /trpc: shared caching for public catalogue reads, none for the rest', async () => {
    const app = await appWith({ trpc: true });
    try {
      const list = await app.inject({ url: '/trpc/catalog.list?input=%7B%22json%22%3A%7B%22limit%22%3A1%7D%7D' });
      expect(list.statusCode).toBe(200);
      expect(list.headers['cache-control']).toMatch(/^public, max-age=\d+/);
      const cart = await app.inject({ url: '/trpc/cart.get' });
      expect(cart.statusCode).toBe(401);
      expect(cart.headers['cache-control']).toBe('private, no-store');
      const index = await app.inject({ url: '/trpc', headers: { accept: 'application/json' } });
      expect(index.statusCode).toBe(200);
      expect(JSON.stringify(index.json())).toContain('catalog.list');
    } finally {
      await app.close();
    }
  });
});
