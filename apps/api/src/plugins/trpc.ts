/**
 * The router at `/trpc`, over batched HTTP, SSE and WebSocket (`useWSS`, on the realtime plugin's
 * server): each call's context, the cache policy of its answer, Retry-After for throttled calls, the log
 * line of a failed one, and the connection slot each WebSocket holds. Also the procedure list at
 * `GET /trpc`.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { CatalogCache } from '@keelson/catalog';
import type { TypingBus } from '@keelson/chat';
import type { Config } from '@keelson/config';
import type { MikroORM } from '@keelson/db';
import { AppError } from '@keelson/errors';
import { appError, appRouter, type Context, createContext, PROCEDURE_RESULT_CODES, procedureList } from '@keelson/trpc';
import { type FastifyTRPCPluginOptions, fastifyTRPCPlugin } from '@trpc/server/adapters/fastify';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { trpcIndexRoute } from '../pages.ts';
import { httpRequestInfo, sessionConfig, wsRequestInfo } from '../requestInfo.ts';
import { limitWebSocketBatches } from '../wsBatchLimit.ts';

/**
 * How long a WebSocket that announced connectionParams (`?connectionParams=1`) may take to send them.
 * Until it does it has no context, so it counts against no user or IP: without a deadline, idle sockets
 * would slip past the connection limits.
 */
const CONNECTION_PARAMS_TIMEOUT_MS = 10_000;

/** Queries whose answer is the same for everyone, so browsers and CDNs may share it. */
const PUBLIC_CATALOG_QUERIES = new Set(['catalog.list', 'catalog.get', 'catalog.categories']);

export interface TrpcOptions {
  config: Config;
  orm: MikroORM;
  logger: Logger;
  catalogCache: CatalogCache | null;
  typing: TypingBus;
  /** The client address of a raw upgrade request, honouring TRUST_PROXY as Fastify does for HTTP. */
  clientIp(req: IncomingMessage): string | null;
}

export async function trpc(app: FastifyInstance, opts: TrpcOptions) {
  const { config, orm, logger, catalogCache, typing, clientIp } = opts;
  const { realtime, events, dashboard, metrics } = app;
  const { allowedOrigins } = config.auth;
  const sessions = sessionConfig(config);
  metrics.declareProcedures(
    procedureList(appRouter).map((p) => ({ procedure: p.path, type: p.type })),
    PROCEDURE_RESULT_CODES,
  );

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
  const { catalog } = config;
  const publicCacheControl = `public, max-age=${catalog.httpMaxAgeS}, stale-while-revalidate=${catalog.httpStaleWhileRevalidateS}`;
  await app.register(trpcIndexRoute, { prefix: '/trpc', router: appRouter });
  // tRPC's adapter sends a fetch Response, whose status Fastify applies only after the onSend hooks:
  // until then the reply says 200 to any hook that reads it (a tracing plugin's `request` span did).
  app.addHook('onSend', async (_req, reply, payload) => {
    if (payload instanceof Response && reply.statusCode !== payload.status) reply.code(payload.status);
    return payload;
  });
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
}
