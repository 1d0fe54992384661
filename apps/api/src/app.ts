/**
 * `buildApp(deps)` assembles the API without listening, so tests and benchmarks run the very same app
 * on port 0; `main.ts` only reads config, listens and handles signals.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import proxyaddr from '@fastify/proxy-addr';
import websocket from '@fastify/websocket';
import { CATALOG_CHANNEL, type CatalogCache, createCatalogCache } from '@keelson/catalog';
import type { Config } from '@keelson/config';
import { createEventHub, type EventHub, type MikroORM, readinessProbe } from '@keelson/db';
import { AppError } from '@keelson/errors';
import { type ApiMetrics, createApiMetrics, UNMATCHED_ROUTE } from '@keelson/metrics';
import { appRouter, createContext } from '@keelson/trpc';
import { type FastifyTRPCPluginOptions, fastifyTRPCPlugin } from '@trpc/server/adapters/fastify';
import Fastify, { LogController } from 'fastify';
import type { Logger } from 'pino';
import { oidcRoutes } from './oidcRoutes.ts';
import { reportRoutes } from './reportRoutes.ts';
import { httpRequestInfo, wsRequestInfo } from './requestInfo.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** This process's cache of hot catalogue reads, or null when CATALOG_CACHE_MAX_ENTRIES is 0. */
    catalogCache: CatalogCache | null;
    /** This app's metrics, served at `/metrics`. */
    metrics: ApiMetrics;
    /** This process's fan-out of realtime events to its subscriptions. */
    events: EventHub;
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
 * Requests left out of `keelson_http_request_duration_seconds`: scrapes and probes arrive every few
 * seconds from machines and would drown the latency of real traffic; Prometheus sees them as `up`.
 */
const UNMEASURED_ROUTES = new Set(['/metrics', '/healthz', '/readyz']);

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
    // Keep-alive sockets would otherwise hold `close()` open until they time out.
    forceCloseConnections: true,
    // Behind a proxy that sets one, reuse its id so a request is traceable end to end.
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    // A batched call names every procedure in the path (`/trpc/cart.get,orders.list,...`); Fastify's
    // default 100-character limit would answer 414 to a batch of a few long names.
    routerOptions: { maxParamLength: Math.max(100, config.http.maxBatchSize * 64) },
    // One access-log line per request (the onResponse hook below) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
  });

  // Reject ids a client could use to forge log lines; otherwise echo the id for correlation.
  app.addHook('onRequest', async (req, reply) => {
    if (!REQUEST_ID.test(req.id)) req.id = randomUUID();
    reply.header('x-request-id', req.id);
  });
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
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) req.log.error({ err: error }, 'unhandled error');
    return reply.code(status).send({
      error: status === 500 ? `Internal server error (request id ${req.id})` : error.message,
      requestId: req.id,
    });
  });

  await app.register(websocket, {
    options: { maxPayload: config.http.wsMaxPayloadBytes },
  });

  // WebSocket upgrades carry cookies across sites too (cross-site WebSocket hijacking): a browser's
  // upgrade must come from an allowed origin. Clients that send no Origin (servers, apps) are not browsers.
  const { allowedOrigins } = config.auth;
  app.addHook('onRequest', async (req, reply) => {
    const origin = req.headers.origin;
    if (req.headers.upgrade?.toLowerCase() === 'websocket' && origin && !allowedOrigins.includes(origin)) {
      return reply.code(403).send({ error: 'Origin not allowed', requestId: req.id });
    }
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
  const events = createEventHub({
    orm,
    url: config.database.url ?? String(orm.config.get('clientUrl')),
    logger,
    channels: catalogCache
      ? {
          [CATALOG_CHANNEL]: {
            onNotification: (payload) => catalogCache.invalidate(payload === '*' ? '*' : [payload]),
            onConnect: () => catalogCache.setLive(true),
            onDisconnect: () => catalogCache.setLive(false),
          },
        }
      : {},
  });
  app.decorate('catalogCache', catalogCache);
  app.decorate('events', events);
  app.addHook('onReady', () => events.start());
  app.addHook('onClose', () => events.close());

  const contextDeps = { orm, logger, sessions, catalogCache, metrics, events, commerce: config.commerce };
  const publicCacheControl = `public, max-age=${catalog.httpMaxAgeS}, stale-while-revalidate=${catalog.httpStaleWhileRevalidateS}`;
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
          return createContext(contextDeps, httpRequestInfo({ sessions, allowedOrigins }, req, res));
        }
        const requestId = randomUUID();
        const request = wsRequestInfo({ sessions, requestId, clientIp }, req as IncomingMessage, info.connectionParams);
        return createContext(contextDeps, { ...request, logger: logger.child({ reqId: requestId }) });
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
        if (error.code === 'INTERNAL_SERVER_ERROR') {
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

  // OpenMetrics (with trace exemplars) when the scraper asks for it, else the Prometheus text format.
  app.get('/metrics', { logLevel: 'warn' }, async (req, reply) => {
    const { contentType, body } = await metrics.scrape(req.headers.accept);
    return reply.header('content-type', contentType).send(body);
  });

  // Ready means: the database answers and every migration (Keelson's and graphile-worker's) is applied.
  const readiness = readinessProbe(orm);
  app.get('/readyz', async (_req, reply) => {
    const { ready, body, error } = await readiness();
    if (error) reply.log.warn({ err: error }, 'readiness check failed');
    return ready ? body : reply.code(503).send(body);
  });

  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
