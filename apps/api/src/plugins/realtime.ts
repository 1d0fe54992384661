/**
 * This process's realtime, registered as one plugin: the subscription guard (`app.realtime`), the event
 * hub with the process's one LISTEN connection (`app.events`, which also carries the catalogue cache's
 * and the typing indicators' channels), the dashboard feed (`app.dashboard`), and the WebSocket server
 * with its shutdown: clients are told to reconnect elsewhere, SSE streams get their last event.
 * Browsers' WebSocket upgrades must come from an allowed origin.
 */
import type { ServerResponse } from 'node:http';
import websocket from '@fastify/websocket';
import { createDashboardFeed, type DashboardFeed, readDashboardSnapshot } from '@keelson/analytics';
import { ipThrottleKey, liveSessions } from '@keelson/auth';
import { CATALOG_CHANNEL, type CatalogCache } from '@keelson/catalog';
import { TYPING_CHANNEL, type TypingBus } from '@keelson/chat';
import type { Config } from '@keelson/config';
import type { MikroORM } from '@keelson/db';
import { errorCatalogue } from '@keelson/errors';
import { type ChannelHandler, createEventHub, createRealtime, type EventHub, type Realtime } from '@keelson/realtime';
import type { TRPCReconnectNotification } from '@trpc/server/rpc';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Logger } from 'pino';

declare module 'fastify' {
  interface FastifyInstance {
    /** This process's fan-out of realtime events to its subscriptions. */
    events: EventHub;
    /** This process's dashboard ticker, shared by every `dashboard.live` subscriber. */
    dashboard: DashboardFeed;
    /** This process's guard of live subscriptions: session re-checks, connection limits, shutdown. */
    realtime: Realtime;
  }
}

/** How long a stopping process waits for its SSE streams to send their SHUTTING_DOWN event. */
const SSE_DRAIN_MS = 2_000;

export interface RealtimeOptions {
  config: Config;
  orm: MikroORM;
  logger: Logger;
  catalogCache: CatalogCache | null;
  typing: TypingBus;
}

async function realtimePlugin(app: FastifyInstance, opts: RealtimeOptions) {
  const { config, orm, logger, catalogCache, typing } = opts;

  // Open SSE streams, so that a stopping process can wait for their last event (see preClose).
  const sseResponses = new Set<ServerResponse>();
  app.addHook('onSend', async (_req, reply) => {
    if (!String(reply.getHeader('content-type') ?? '').startsWith('text/event-stream')) return;
    const res = reply.raw;
    sseResponses.add(res);
    res.once('close', () => sseResponses.delete(res));
  });

  const realtime = createRealtime({
    orm,
    logger,
    authRecheckMs: config.realtime.authRecheckMs,
    limits: config.realtime,
    checkSessions: liveSessions,
    ipKey: ipThrottleKey,
  });
  app.decorate('realtime', realtime);

  // One read per batch of new events, whatever the number of subscriptions this process serves. Its
  // LISTEN connection is the process's only one: typing indicators travel on it as NOTIFYs (never
  // stored), and the catalogue cache hears its invalidations there. Deaf (disconnected), the cache is
  // bypassed; live again, it starts empty (notifications of the gap were lost).
  const channels: Record<string, ChannelHandler> = {
    [TYPING_CHANNEL]: { onNotification: (payload) => typing.deliver(payload) },
  };
  if (catalogCache) {
    channels[CATALOG_CHANNEL] = {
      onNotification: (payload) => catalogCache.invalidate(payload === '*' ? '*' : [payload]),
      onConnect: () => catalogCache.setLive(true),
      onDisconnect: () => catalogCache.setLive(false),
    };
  }
  const events = createEventHub({
    orm,
    url: config.database.url ?? String(orm.config.get('clientUrl')),
    logger,
    onEvents: (batch) => app.metrics.realtimeEventsRead(batch),
    channels,
  });
  app.decorate('events', events);

  // One snapshot query per tick for all of this process's dashboard watchers, none while nobody watches.
  const dashboard = createDashboardFeed({
    read: () => readDashboardSnapshot(orm.em.fork()),
    intervalMs: config.dashboard.intervalMs,
    logger,
  });
  app.decorate('dashboard', dashboard);

  app.metrics.trackRealtime(() => ({
    subscriptions: { events: events.subscriberCount, dashboard: dashboard.subscriberCount },
    connections: realtime.stats.slots,
    listening: events.listener.connected,
  }));
  app.addHook('onReady', async () => {
    await events.start();
    realtime.start();
  });
  app.addHook('onClose', async () => {
    await realtime.close();
    await events.close();
    await dashboard.close();
  });

  await app.register(websocket, {
    // A larger message closes that socket alone, with 1009 (ws enforces it before tRPC sees a byte).
    options: { maxPayload: config.http.wsMaxPayloadBytes },
    // Replaces the plugin's default (a bare close(), code 1005): clients are first told to reconnect,
    // tRPC's own notice, which @trpc/client acts on by reconnecting and resubscribing from the last
    // event id, then the socket closes as "going away" (1001), which any WebSocket client retries.
    // SSE streams end with SHUTTING_DOWN (a retryable code), so EventSource reconnects too.
    async preClose() {
      realtime.shutdown();
      // What tRPC's `applyWSSHandler().broadcastReconnectNotification()` sends; the Fastify adapter
      // exposes no such function, so the message is sent here, typed against the installed version.
      const reconnect: TRPCReconnectNotification = { id: null, method: 'reconnect' };
      const notice = JSON.stringify(reconnect);
      for (const client of app.websocketServer.clients) {
        if (client.readyState !== client.OPEN) continue;
        client.send(notice);
        client.close(1001, 'Server shutting down');
      }
      app.websocketServer.close();
      // Closing forces connections shut: let the SSE streams write their last event first.
      const ending = [...sseResponses].map(
        (res) =>
          new Promise<void>((resolve) =>
            res.writableFinished || res.destroyed ? resolve() : res.once('close', resolve).once('finish', resolve),
          ),
      );
      await Promise.race([Promise.all(ending), new Promise((resolve) => setTimeout(resolve, SSE_DRAIN_MS).unref())]);
    },
  });

  // After @fastify/websocket, whose hook marks an upgrade (one refused before that kept its socket open).
  // WebSocket upgrades carry cookies across sites too (cross-site WebSocket hijacking) and no CORS protects
  // them: a browser's upgrade must come from an allowed origin. Clients that send no Origin (servers, apps)
  // are not browsers.
  const { allowedOrigins } = config.auth;
  app.addHook('onRequest', async (req, reply) => {
    if (req.headers.upgrade?.toLowerCase() !== 'websocket') return;
    const origin = req.headers.origin;
    if (origin && !allowedOrigins.includes(origin)) {
      return reply.code(403).send({
        error: errorCatalogue.ORIGIN_NOT_ALLOWED.message,
        appCode: 'ORIGIN_NOT_ALLOWED',
        requestId: req.id,
      });
    }
    if (realtime.shuttingDown) return reply.code(503).send({ error: 'Shutting down', requestId: req.id });
  });
}

export default fp(realtimePlugin, {
  name: 'keelson-realtime',
  fastify: '5.x',
  dependencies: ['keelson-access-log'],
});
