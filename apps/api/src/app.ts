/**
 * `buildApp(deps)` assembles the API without listening, so tests and benchmarks run the very same app
 * on port 0; `main.ts` only reads config, listens and handles signals. It reads as the list of the
 * app's plugins (`plugins/`), each with one job, in the order their hooks must run.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import proxyaddr from '@fastify/proxy-addr';
import type { CatalogCache } from '@keelson/catalog';
import type { Config } from '@keelson/config';
import type { MikroORM } from '@keelson/db';
import { type ApiMetrics, createApiMetrics } from '@keelson/metrics';
import { createServices } from '@keelson/services';
import { appRouter } from '@keelson/trpc';
import Fastify, { LogController } from 'fastify';
import type { Logger } from 'pino';
import { oidcRoutes } from './oidcRoutes.ts';
import { noWebAppPage } from './pages.ts';
import accessLog from './plugins/accessLog.ts';
import cors from './plugins/cors.ts';
import errorHandler from './plugins/errorHandler.ts';
import gracefulShutdown from './plugins/gracefulShutdown.ts';
import { health } from './plugins/health.ts';
import { hostHeader } from './plugins/hostHeader.ts';
import { httpMethods } from './plugins/httpMethods.ts';
import metricsServer from './plugins/metricsServer.ts';
import realtime from './plugins/realtime.ts';
import requestId from './plugins/requestId.ts';
import securityHeaders from './plugins/securityHeaders.ts';
import { trpc } from './plugins/trpc.ts';
import { webApp } from './plugins/webApp.ts';
import { reportRoutes } from './reportRoutes.ts';
import { sessionConfig } from './requestInfo.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** This process's cache of hot catalogue reads, or null when CATALOG_CACHE_MAX_ENTRIES is 0. */
    catalogCache: CatalogCache | null;
  }
}

export interface AppDeps {
  config: Config;
  orm: MikroORM;
  logger: Logger;
  /** Default: a registry of this app's own (several apps in one process each count their own). */
  metrics?: ApiMetrics;
}

/** Where relative paths of the configuration (WEB_DIR) start, as for `pnpm start`'s. */
const REPO_ROOT = path.resolve(import.meta.dirname, '../../..');

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
    // Behind a proxy that sets one, reuse its id so a request is traceable end to end (plugins/requestId.ts).
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    // A batched call names every procedure in the path (`/trpc/cart.get,orders.list,...`); Fastify's
    // default 100-character limit would answer 414 to a batch of a few long names.
    routerOptions: { maxParamLength: Math.max(100, config.http.maxBatchSize * 64) },
    // One access-log line per request (plugins/accessLog.ts) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
  });

  // The services this process uses (built where the worker's are), shared by the realtime plugin (their
  // LISTEN channels) and the router.
  const { catalogCache, typing } = createServices({ config, orm });
  app.decorate('catalogCache', catalogCache);

  // Headers and ids first, so that every answer below carries them, refusals included.
  await app.register(securityHeaders, { publicUrl: config.auth.publicUrl });
  await app.register(requestId);
  await app.register(gracefulShutdown, config.httpShutdown);
  await app.register(accessLog, { metrics: deps.metrics ?? createApiMetrics(), orm });
  await app.register(errorHandler);
  await app.register(realtime, { config, orm, logger, catalogCache, typing });
  // After the WebSocket server (in realtime), whose hook marks an upgrade: one refused before that kept
  // its socket open. CORS before httpMethods and tRPC's route, which would answer a preflight 405 or 415.
  await app.register(hostHeader);
  await app.register(cors, { allowedOrigins: config.auth.allowedOrigins });
  await app.register(httpMethods, { trpc: { prefix: '/trpc', router: appRouter } });

  await app.register(trpc, {
    config,
    orm,
    logger,
    catalogCache,
    typing,
    clientIp: clientIpResolver(config.http.trustProxy),
  });
  const sessions = sessionConfig(config);
  await app.register(oidcRoutes, { config, orm, sessions });
  await app.register(reportRoutes, { orm, sessions });
  await app.register(health, { orm, database: config.database });
  await app.register(metricsServer, { metrics: app.metrics, token: config.metrics.token, logger });
  // Its catch-all GET route gives way to every route above (the router prefers static and parametric ones).
  await app.register(webApp, {
    dir: config.http.webDir,
    baseDir: REPO_ROOT,
    fallbackIndex: () => noWebAppPage(appRouter, config.http.webDir),
  });
  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
