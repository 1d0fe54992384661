/**
 * `t` is defined once here; routers import the builders, never `initTRPC`.
 */
import { isDatabaseUnavailable } from '@keelson/db';
import { AppError, type AppErrorCode, type ErrorStatus } from '@keelson/errors';
import { withLogFields } from '@keelson/runtime';
import { initTRPC, type TRPC_ERROR_CODE_KEY, TRPCError } from '@trpc/server';
import superjson from 'superjson';
import type { Context } from './context.ts';
import { assertStorableText } from './inputText.ts';
import { createLiveSubscription } from './liveSubscription.ts';
import { procedureMetrics } from './procedureMetrics.ts';
import { setSpanUser, traceProcedure } from './tracing.ts';

export const INTERNAL_MESSAGE = 'Internal server error';

/** What a client waiting out a lost database connection is told (Retry-After), seconds. */
export const DATABASE_RETRY_AFTER_S = 1;

interface FieldIssue {
  path: (string | number)[];
  message: string;
  code: string;
}

/** Issues of a failed input validation (zod, or any Standard Schema), in a form safe to send. */
function validationIssues(cause: unknown): FieldIssue[] | null {
  if (!cause || typeof cause !== 'object' || !('issues' in cause) || !Array.isArray(cause.issues)) return null;
  return cause.issues.map((i: { path?: readonly unknown[]; message?: string; code?: string }) => ({
    path: (i.path ?? []).map((p) => (typeof p === 'object' && p && 'key' in p ? String(p.key) : p)) as (
      | string
      | number
    )[],
    message: String(i.message ?? 'Invalid value'),
    code: String(i.code ?? 'invalid'),
  }));
}

const t = initTRPC.context<Context>().create({
  transformer: superjson,
  // Stacks never leave the server, whatever NODE_ENV says.
  isDev: false,
  // SSE streams are quiet between events, and proxies and load balancers close idle connections (often
  // after 60 s): a comment every 15 s keeps them open, and the client, told to expect one, reconnects
  // (resuming with its last event id) when none arrives for 40 s, i.e. when a proxy dropped the stream
  // without closing it. WebSockets have their own ping/pong (keepAlive in apps/api).
  sse: { ping: { enabled: true, intervalMs: 15_000 }, client: { reconnectAfterInactivityMs: 40_000 } },
  errorFormatter({ shape, error, ctx }) {
    const base = {
      code: shape.data.code,
      httpStatus: shape.data.httpStatus,
      path: shape.data.path,
      requestId: ctx?.requestId ?? null,
    };
    if (error.code === 'INTERNAL_SERVER_ERROR') {
      // tRPC would otherwise send the raw cause's message: SQL, file paths, driver text.
      return {
        message: `${INTERNAL_MESSAGE} (request id ${base.requestId ?? 'unknown'})`,
        code: shape.code,
        data: { ...base, appCode: 'INTERNAL' as AppErrorCode, details: null, issues: null },
      };
    }
    const appError = error.cause instanceof AppError ? error.cause : null;
    const issues = error.code === 'BAD_REQUEST' ? validationIssues(error.cause) : null;
    // tRPC's own refusal of a method (a GET to a mutation) gets the catalogue's code too.
    const methodRefused = error.code === 'METHOD_NOT_SUPPORTED' ? ('METHOD_NOT_ALLOWED' as AppErrorCode) : null;
    return {
      message: issues ? 'Invalid input' : shape.message,
      code: shape.code,
      data: {
        ...base,
        appCode: appError?.code ?? (issues ? ('VALIDATION_FAILED' as AppErrorCode) : methodRefused),
        details: appError?.details ?? null,
        issues,
      },
    };
  },
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;
export const middleware = t.middleware;

/** The tRPC code of each status the catalogue uses: the one translation from domain errors to tRPC. */
export const trpcCodeOfStatus = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_SUPPORTED',
  409: 'CONFLICT',
  429: 'TOO_MANY_REQUESTS',
  500: 'INTERNAL_SERVER_ERROR',
  503: 'SERVICE_UNAVAILABLE',
} as const satisfies Record<ErrorStatus, TRPC_ERROR_CODE_KEY>;

/** The TRPCError an AppError becomes: the tRPC code of its catalogue status. */
export function appError(error: AppError): TRPCError {
  return new TRPCError({ code: trpcCodeOfStatus[error.status], message: error.message, cause: error });
}

/** One span per procedure call, first, so that the refusals of the middlewares below are traced too. */
const traced = t.procedure.use(({ path, type, next }) => traceProcedure({ path, type }, next));

/**
 * Every call is timed next (`procedureMetrics`, inside its span so a duration's exemplar names that
 * trace, and outside the rest so it sees the final code of whatever the middlewares below throw). Every procedure gets its own forked EntityManager, and every `AppError` thrown below becomes the
 * TRPCError the catalogue maps it to. Anything else stays an INTERNAL_SERVER_ERROR.
 */
const timed = traced.use(procedureMetrics);

/**
 * No string of any input may hold a NUL or an unpaired surrogate (see inputText.ts): checked here, on
 * the raw input before any schema parses it, because every procedure is built on this one. A shared
 * string schema would have to be remembered in every field of every new procedure (record keys and
 * `z.unknown()` payloads too); one field forgotten would be a 500 again. HTTP, WebSocket and SSE calls
 * all pass here.
 */
const textChecked = timed.use(async ({ getRawInput, next }) => {
  assertStorableText(await getRawInput());
  return next();
});

const base = textChecked.use(async ({ ctx, next, type }) => {
  // CSRF: a browser attaches cookies to cross-site requests by itself, so a cookie-authenticated
  // mutation must come from our own origin. Bearer tokens and connectionParams are never automatic.
  // A mutation a browser marks cross-site is refused even without a cookie (log-in CSRF).
  const cookieAuth = ctx.request.credential?.source === 'cookie';
  if (type === 'mutation' && ((cookieAuth && !ctx.request.trustedOrigin) || ctx.request.crossSite)) {
    throw appError(new AppError('CSRF_REJECTED'));
  }
  const em = ctx.orm.em.fork();
  const result = await next({ ctx: { em } });
  if (!result.ok && result.error.cause instanceof AppError) throw appError(result.error.cause);
  // A lost or saturated database is an outage the client can wait out, not a bug: 503 with Retry-After.
  if (!result.ok && isDatabaseUnavailable(result.error.cause)) {
    throw appError(
      new AppError('DATABASE_UNAVAILABLE', {
        details: { retryAfterSeconds: DATABASE_RETRY_AFTER_S },
        cause: result.error.cause,
      }),
    );
  }
  return result;
});

const isAsyncIterable = (value: unknown): value is AsyncIterable<unknown> =>
  typeof value === 'object' && value !== null && Symbol.asyncIterator in value;

/**
 * Every subscription, whoever may open it: at most WS_MAX_SUBSCRIPTIONS_PER_CONNECTION on one WebSocket;
 * an SSE stream is a connection of its own, counted against its user (or anonymous IP); a stopping
 * process ends SSE streams with SHUTTING_DOWN so clients reconnect elsewhere (WebSockets are told
 * by the server's reconnect notice). Whatever ends the stream gives back what it held.
 */
const guarded = base.use(async ({ ctx, next, type }) => {
  const realtime = ctx.realtime;
  if (type !== 'subscription' || !realtime) return next();
  if (realtime.shuttingDown) throw appError(new AppError('SHUTTING_DOWN'));
  const overWebSocket = ctx.request.longLived === true;
  const open = ctx.openSubscriptions;
  if (overWebSocket && open.count >= realtime.limits.maxSubscriptionsPerConnection) {
    const max = realtime.limits.maxSubscriptionsPerConnection;
    throw appError(
      new AppError('RATE_LIMITED', {
        message: `Too many subscriptions on this connection (at most ${max}); stop one first.`,
        details: { maxSubscriptions: max },
      }),
    );
  }
  const live = createLiveSubscription();
  if (!overWebSocket) {
    const valid = await ctx.session();
    try {
      live.defer(realtime.acquireSlot(valid ? { userId: valid.user.id } : { ip: ctx.request.ip }));
    } catch (err) {
      throw err instanceof AppError ? appError(err) : err;
    }
    live.defer(realtime.onShutdown((error) => live.end(appError(error))));
  }
  open.count++;
  live.defer(() => {
    open.count--;
  });
  const closed = ctx.request.closed;
  if (closed) {
    const onClose = () => live.finish();
    closed.addEventListener('abort', onClose, { once: true });
    live.defer(() => closed.removeEventListener('abort', onClose));
  }
  const result = await next({ ctx: { live } });
  // A connection that closed meanwhile: tRPC drops the stream without starting it (nor returning it).
  if (!result.ok || !isAsyncIterable(result.data) || closed?.aborted) {
    live.finish();
    return result;
  }
  return { ...result, data: live.wrap(result.data) };
});

export const publicProcedure = guarded;

/** Requires a valid session; adds `user` and `sessionId` (the public id) to the context. */
export const authedProcedure = guarded.use(async ({ ctx, next, type }) => {
  const valid = await ctx.session();
  if (!valid) throw appError(new AppError('UNAUTHENTICATED'));
  setSpanUser(valid.user.id);
  // A subscription outlives the check above: the process re-checks its session every
  // SUBSCRIPTION_AUTH_RECHECK_MS and ends it when the session ends or the role it started with is lost.
  // Every subscription built on authedProcedure or adminProcedure gets this without asking.
  const { live, realtime } = ctx;
  if (type === 'subscription' && live && realtime) {
    const identity = { sessionId: valid.session.id, userId: valid.user.id, role: valid.user.role };
    live.defer(realtime.watch(identity, (error) => live.end(appError(error))));
  }
  return withLogFields({ userId: valid.user.id }, () =>
    next({ ctx: { user: valid.user, sessionId: valid.session.id } }),
  );
});

/** Requires the admin role; a signed-in customer gets FORBIDDEN. */
export const adminProcedure = authedProcedure.use(({ ctx, next }) => {
  if (ctx.user.role !== 'admin') throw appError(new AppError('FORBIDDEN'));
  return next();
});
