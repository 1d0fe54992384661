/**
 * `buildApp(deps)` assembles the API without listening, so tests and benchmarks run the very same app
 * on port 0; `main.ts` only reads config, listens and handles signals.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import proxyaddr from '@fastify/proxy-addr';
import websocket from '@fastify/websocket';
import { createDashboardFeed, type DashboardFeed, readDashboardSnapshot } from '@keelson/analytics';
import { ipThrottleKey, liveSessions } from '@keelson/auth';
import { CATALOG_CHANNEL, type CatalogCache, createCatalogCache } from '@keelson/catalog';
import { chatGauges, createTypingBus, TYPING_CHANNEL } from '@keelson/chat';
import type { Config } from '@keelson/config';
import { isDatabaseUnavailable, type MikroORM, readinessProbe } from '@keelson/db';
import { AppError, errorCatalogue } from '@keelson/errors';
import { type ApiMetrics, createApiMetrics, UNMATCHED_ROUTE } from '@keelson/metrics';
import { createEventHub, createRealtime, type EventHub, type Realtime } from '@keelson/realtime';
import { appError, appRouter, type Context, createContext, DATABASE_RETRY_AFTER_S } from '@keelson/trpc';
import { type FastifyTRPCPluginOptions, fastifyTRPCPlugin } from '@trpc/server/adapters/fastify';
import type { TRPCReconnectNotification } from '@trpc/server/rpc';
import Fastify, { LogController } from 'fastify';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { oidcRoutes } from './oidcRoutes.ts';
import { noWebAppPage, trpcIndexRoute } from './pages.ts';
import cors from './plugins/cors.ts';
import gracefulShutdown from './plugins/gracefulShutdown.ts';
import { hostHeader } from './plugins/hostHeader.ts';
import { httpMethods } from './plugins/httpMethods.ts';
import metricsServer from './plugins/metricsServer.ts';
import securityHeaders from './plugins/securityHeaders.ts';
import { webApp } from './plugins/webApp.ts';
import { reportRoutes } from './reportRoutes.ts';
import { httpRequestInfo, wsRequestInfo } from './requestInfo.ts';
import { limitWebSocketBatches } from './wsBatchLimit.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** This process's cache of hot catalogue reads, or null when CATALOG_CACHE_MAX_ENTRIES is 0. */
    catalogCache: CatalogCache | null;
    /** This app's metrics, served at `/metrics` by `metricsServer` (never on the public listener). */
    metrics: ApiMetrics;
    /** This process's fan-out of realtime events to its subscriptions. */
    events: EventHub;
    /** This process's dashboard ticker, shared by every `dashboard.live` subscriber. */
    dashboard: DashboardFeed;
    /** This process's guard of live subscriptions: session re-checks, connection limits, shutdown. */
    realtime: Realtime;
  }
}

export interface AppDeps {
  config: Config;
  orm: MikroORM;
  logger: Logger;
  /** Default: a registry of this app's own (several apps in one process each count their own). */
  metrics?: ApiMetrics;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * How long a WebSocket that announced connectionParams (`?connectionParams=1`) may take to send them.
 * Until it does it has no context, so it counts against no user or IP: without a deadline, idle sockets
 * would slip past the connection limits.
 */
const CONNECTION_PARAMS_TIMEOUT_MS = 10_000;

/** How long a stopping process waits for its SSE streams to send their SHUTTING_DOWN event. */
const SSE_DRAIN_MS = 2_000;

/**
 * Requests left out of `keelson_http_request_duration_seconds`: probes arrive every few seconds from
 * machines and would drown the latency of real traffic. (Scrapes go to the metrics listener.)
 */
/** Where relative paths of the configuration (WEB_DIR) start, as for `pnpm start`'s. */
const REPO_ROOT = path.resolve(import.meta.dirname, '../../..');
const UNMEASURED_ROUTES = new Set(['/healthz', '/readyz']);

/** Queries whose answer is the same for everyone, so browsers and CDNs may share it. */
const PUBLIC_CATALOG_QUERIES = new Set(['catalog.list', 'catalog.get', 'catalog.categories']);

/** Fastify's types take no hop count, so a count becomes "trust the nearest N hops". */
function trustProxy(setting: Config['http']['trustProxy']) {
  return typeof setting === 'number' ? (_address: string, hop: number) => hop < setting : setting;
}

/**
 * The client address of a raw request (a WebSocket upgrade, which tRPC hands over without Fastify's
 * `req.ip`), honouring TRUST_PROXY exactly as Fastify does for HTTP.
 */
function clientIpResolver(setting: Config['http']['trustProxy']): (req: IncomingMessage) => string | null {
  const fastifyTrust = trustProxy(setting);
  const trust =
    typeof fastifyTrust === 'boolean'
      ? () => fastifyTrust
      : typeof fastifyTrust === 'function'
        ? fastifyTrust
        : proxyaddr.compile(fastifyTrust);
  return (req) => proxyaddr(req, trust) ?? null;
}

export async function buildApp(deps: AppDeps) {
  const { config, orm, logger } = deps;
  const clientIp = clientIpResolver(config.http.trustProxy);
  const app = Fastify({
    loggerInstance: logger,
    requestTimeout: config.http.requestTimeoutMs,
    bodyLimit: config.http.bodyLimitBytes,
    trustProxy: trustProxy(config.http.trustProxy),
    // Closing never cuts a request in flight (see plugins/gracefulShutdown.ts, which cuts only after the
    // grace), and a request that reaches an open keep-alive socket as the server closes is still served
    // (with `Connection: close`) rather than answered 503: its client sent it before it could know.
    forceCloseConnections: false,
    return503OnClosing: false,
    // Behind a proxy that sets one, reuse its id so a request is traceable end to end.
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    // A batched call names every procedure in the path (`/trpc/cart.get,orders.list,...`); Fastify's
    // default 100-character limit would answer 414 to a batch of a few long names.
    routerOptions: { maxParamLength: Math.max(100, config.http.maxBatchSize * 64) },
    // One access-log line per request (the onResponse hook below) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
  });
  await app.register(securityHeaders, { publicUrl: config.auth.publicUrl });

  // Reject ids a client could use to forge log lines; otherwise echo the id for correlation.
  app.addHook('onRequest', async (req, reply) => {
    if (!REQUEST_ID.test(req.id)) req.id = randomUUID();
    reply.header('x-request-id', req.id);
  });
  await app.register(gracefulShutdown, config.httpShutdown);
  const metrics = deps.metrics ?? createApiMetrics();
  metrics.trackPool(() => orm.em.getConnection().getNativeClient());
  app.decorate('metrics', metrics);
  app.addHook('onResponse', async (req, reply) => {
    // The route pattern, never the URL: ids and a scanner's paths would each make a series of their own.
    const route = req.routeOptions.url ?? UNMATCHED_ROUTE;
    if (!UNMEASURED_ROUTES.has(route)) {
      metrics.observeHttpRequest({
        method: req.method,
        route,
        statusCode: reply.statusCode,
        seconds: reply.elapsedTime / 1000,
      });
    }
    req.log.info(
      { method: req.method, url: req.routeOptions.url, status: reply.statusCode, ms: reply.elapsedTime },
      'request',
    );
  });

  // Fastify's default would send `error.message` on a 500; only 4xx messages are the client's business.
  // Set before any plugin is registered: plugins keep the handler that was current when they were added.
  app.setErrorHandler((error: { statusCode?: number; message: string }, req, reply) => {
    if (isDatabaseUnavailable(error)) {
      req.log.warn({ err: error }, 'database unavailable');
      return reply.code(503).header('retry-after', String(DATABASE_RETRY_AFTER_S)).send({
        error: errorCatalogue.DATABASE_UNAVAILABLE.message,
        appCode: 'DATABASE_UNAVAILABLE',
        requestId: req.id,
      });
    }
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) req.log.error({ err: error }, 'unhandled error');
    return reply.code(status).send({
      error: status === 500 ? `Internal server error (request id ${req.id})` : error.message,
      requestId: req.id,
    });
  });

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

  // After @fastify/websocket, whose hook marks an upgrade: one refused before that kept its socket open.
  await app.register(hostHeader);
  const { allowedOrigins } = config.auth;
  // Before httpMethods and tRPC's route, which would answer a preflight 405 or 415.
  await app.register(cors, { allowedOrigins });
  await app.register(httpMethods, { trpc: { prefix: '/trpc', router: appRouter } });

  // WebSocket upgrades carry cookies across sites too (cross-site WebSocket hijacking) and no CORS protects
  // them: a browser's upgrade must come from an allowed origin. Clients that send no Origin (servers, apps)
  // are not browsers.
  app.addHook('onRequest', async (req, reply) => {
    const origin = req.headers.origin;
    if (req.headers.upgrade?.toLowerCase() !== 'websocket') return;
    if (origin && !allowedOrigins.includes(origin)) {
      return reply.code(403).send({
        error: errorCatalogue.ORIGIN_NOT_ALLOWED.message,
        appCode: 'ORIGIN_NOT_ALLOWED',
        requestId: req.id,
      });
    }
    if (realtime.shuttingDown) return reply.code(503).send({ error: 'Shutting down', requestId: req.id });
  });

  const sessions = {
    idleTimeoutMs: config.auth.sessionIdleTimeoutMs,
    maxAgeMs: config.auth.sessionMaxAgeMs,
    cookieSecure: config.auth.cookieSecure,
  };
  // The catalogue cache of this process, emptied of each product whose change another process (or this
  // one) commits: writes NOTIFY, the process's LISTEN connection hears it. Deaf (disconnected), the cache
  // is bypassed; live again, it starts empty (notifications of the gap were lost).
  const { catalog } = config;
  const catalogCache =
    catalog.cacheMaxEntries > 0
      ? createCatalogCache({ maxEntries: catalog.cacheMaxEntries, ttlMs: catalog.cacheTtlMs })
      : null;
  // Realtime events: one read per batch of new events, whatever the number of subscriptions this
  // process serves. Its LISTEN connection is the process's only one, and carries the cache's channel.
  // Typing indicators travel as NOTIFYs on the same LISTEN connection: never stored.
  const typing = createTypingBus();
  const events = createEventHub({
    orm,
    url: config.database.url ?? String(orm.config.get('clientUrl')),
    logger,
    onEvents: (batch) => metrics.realtimeEventsRead(batch),
    channels: {
      [TYPING_CHANNEL]: { onNotification: (payload) => typing.deliver(payload) },
      ...(catalogCache
        ? {
            [CATALOG_CHANNEL]: {
              onNotification: (payload: string) => catalogCache.invalidate(payload === '*' ? '*' : [payload]),
              onConnect: () => catalogCache.setLive(true),
              onDisconnect: () => catalogCache.setLive(false),
            },
          }
        : {}),
    },
  });
  metrics.trackChat(() => chatGauges(orm.em.fork()));
  app.decorate('catalogCache', catalogCache);
  app.decorate('events', events);
  // One snapshot query per tick for all of this process's dashboard watchers, none while nobody watches.
  const dashboard = createDashboardFeed({
    read: () => readDashboardSnapshot(orm.em.fork()),
    intervalMs: config.dashboard.intervalMs,
    logger,
  });
  app.decorate('dashboard', dashboard);
  metrics.trackRealtime(() => ({
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

  // Sockets whose context exists, hence counted; see CONNECTION_PARAMS_TIMEOUT_MS for the others.
  const identified = new WeakSet<WebSocket>();
  app.websocketServer.on('connection', (socket: WebSocket, req: IncomingMessage) => {
    // Before tRPC's handler starts listening to the socket.
    limitWebSocketBatches(socket, { router: appRouter, maxBatchSize: config.http.maxBatchSize });
    if (new URL(req.url ?? '/', 'http://localhost').searchParams.get('connectionParams') !== '1') return;
    const timer = setTimeout(() => {
      if (!identified.has(socket)) socket.close(1008, 'connectionParams not sent');
    }, CONNECTION_PARAMS_TIMEOUT_MS);
    socket.once('close', () => clearTimeout(timer));
  });
  /**
   * A WebSocket counts against its user (or, without a session, its IP) for as long as it is open. Over
   * the limit it is closed with 1008 (policy violation) and its calls fail with RATE_LIMITED.
   */
  const holdConnectionSlot = async (ctx: Context, socket: WebSocket): Promise<Context> => {
    identified.add(socket);
    const valid = await ctx.session();
    try {
      const release = realtime.acquireSlot(valid ? { userId: valid.user.id } : { ip: ctx.request.ip });
      socket.once('close', release);
      if (socket.readyState === socket.CLOSED) release();
    } catch (err) {
      socket.close(1008, 'Too many connections');
      throw err instanceof AppError ? appError(err) : err;
    }
    return ctx;
  };
  const contextDeps = {
    orm,
    logger,
    sessions,
    catalogCache,
    metrics,
    events,
    dashboard,
    realtime,
    commerce: config.commerce,
    oidc: config.oidc !== null,
    chat: config.chat,
    typing,
  };
  const publicCacheControl = `public, max-age=${catalog.httpMaxAgeS}, stale-while-revalidate=${catalog.httpStaleWhileRevalidateS}`;
  await app.register(trpcIndexRoute, { prefix: '/trpc', router: appRouter });
  await app.register(fastifyTRPCPlugin, {
    prefix: '/trpc',
    useWSS: true,
    trpcOptions: {
      router: appRouter,
      maxBatchSize: config.http.maxBatchSize,
      keepAlive: { enabled: true, pingMs: 30_000, pongWaitMs: 5_000 },
      createContext: ({ req, res, info }) => {
        // Over HTTP `req` is Fastify's request; a WebSocket connection passes the raw upgrade request.
        if ('id' in req && 'log' in req) {
          const request = httpRequestInfo({ sessions, allowedOrigins }, req, res);
          return createContext(contextDeps, { ...request, ...(info.signal ? { closed: info.signal } : {}) });
        }
        const requestId = randomUUID();
        const request = wsRequestInfo({ sessions, requestId, clientIp }, req as IncomingMessage, info.connectionParams);
        const ctx = createContext(contextDeps, {
          ...request,
          logger: logger.child({ reqId: requestId }),
          ...(info.signal ? { closed: info.signal } : {}),
        });
        return holdConnectionSlot(ctx, res as unknown as WebSocket);
      },
      responseMeta: ({ ctx, info, errors, type }) => {
        const headers: Record<string, string> = {};
        // Throttled calls tell clients when to come back.
        const retry = errors
          .map((e) => (e.cause instanceof AppError ? e.cause.details?.retryAfterSeconds : undefined))
          .find((v): v is number => typeof v === 'number');
        if (retry) headers['retry-after'] = String(retry);
        // Shared caches may keep a response only if it is the same for everyone: public catalogue
        // queries, no credential (whose answers could be personal, and whose cookies may be renewed),
        // no error. Anything else must not be stored anywhere.
        const calls = info?.calls ?? [];
        const shareable =
          type === 'query' &&
          errors.length === 0 &&
          ctx?.request.credential === null &&
          calls.length > 0 &&
          calls.every(
            (call) =>
              PUBLIC_CATALOG_QUERIES.has(call.path) &&
              !(call.result() as { includeArchived?: unknown } | undefined)?.includeArchived,
          );
        headers['cache-control'] = shareable ? publicCacheControl : 'private, no-store';
        return { headers };
      },
      onError: ({ error, path, type, ctx }) => {
        if (error.cause instanceof AppError && error.cause.code === 'DATABASE_UNAVAILABLE') {
          (ctx?.logger ?? logger).warn(
            { err: error.cause.cause, path, type, requestId: ctx?.requestId },
            'database unavailable',
          );
        } else if (error.code === 'INTERNAL_SERVER_ERROR') {
          (ctx?.logger ?? logger).error(
            { err: error.cause ?? error, path, type, requestId: ctx?.requestId },
            'procedure failed',
          );
        }
      },
    } satisfies FastifyTRPCPluginOptions<typeof appRouter>['trpcOptions'],
  });

  await app.register(oidcRoutes, { config, orm, sessions });
  await app.register(reportRoutes, { orm, sessions });

  app.get('/healthz', async () => ({ status: 'ok' }));

  await app.register(metricsServer, { metrics, token: config.metrics.token, logger });

  // Ready means: not stopping, every migration applied, the database answering and the pool not stuck.
  const readiness = readinessProbe(orm, {
    url: config.database.url ?? String(orm.config.get('clientUrl')),
    stuckAfterMs: config.database.acquireTimeoutMs,
  });
  app.addHook('onClose', () => readiness.close());
  app.get('/readyz', async (_req, reply) => {
    if (app.draining) return reply.code(503).send({ status: 'shutting down' });
    const { ready, body, error } = await readiness.check();
    if (error) reply.log.warn({ err: error }, 'readiness check failed');
    return ready ? body : reply.code(503).send(body);
  });

  // Its catch-all GET route gives way to every route above (the router prefers static and parametric ones).
  await app.register(webApp, {
    dir: config.http.webDir,
    baseDir: REPO_ROOT,
    fallbackIndex: () => noWebAppPage(appRouter, config.http.webDir),
  });

  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
