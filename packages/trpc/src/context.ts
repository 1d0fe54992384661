import type { DashboardFeed } from '@keelson/analytics';
import {
  blankSessionCookie,
  deviceCookie,
  type SessionConfig,
  sessionCookie,
  type ValidSession,
  validateSession,
} from '@keelson/auth';
import type { CatalogCache } from '@keelson/catalog';
import { type ChatSettings, defaultChatSettings, type TypingBus } from '@keelson/chat';
import type { MikroORM } from '@keelson/db';
import type { ApiMetrics } from '@keelson/metrics';
import type { CommerceSettings } from '@keelson/orders';
import type { EventHub, Realtime } from '@keelson/realtime';
import type { LiveSubscription } from './liveSubscription.ts';

/** What a procedure needs to log; pino's Logger fits, and so does anything with these methods. */
export interface ContextLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ContextDeps {
  orm: MikroORM;
  logger: ContextLogger;
  sessions: SessionConfig;
  /** Currency, tax rate and checkout key retention (from config). */
  commerce: CommerceSettings;
  /** Whether sign-in with an OpenID Connect provider is configured (`/auth/oidc/start`). Default: no. */
  oidc?: boolean;
  /**
   * The API process's cache of hot catalogue reads, kept fresh by LISTEN/NOTIFY. Optional: without it
   * (tests through `createCaller`, scripts) every read goes to the database.
   */
  catalogCache?: CatalogCache | null;
  /** The API process's metrics. Optional: without them (`createCaller` tests, scripts) nothing is counted. */
  metrics?: ApiMetrics | null;
  /**
   * The API process's fan-out of realtime events. Optional: without it (`createCaller` tests, scripts)
   * subscriptions answer with an error.
   */
  events?: EventHub | null;
  /**
   * The API process's shared ticker of dashboard snapshots. Optional: without it (`createCaller` tests,
   * scripts) `dashboard.live` answers with an error.
   */
  dashboard?: DashboardFeed | null;
  /**
   * The API process's guard of live subscriptions (session re-checks, connection limits, shutdown).
   * Optional: without it (`createCaller` tests, scripts) subscriptions run unguarded.
   */
  realtime?: Realtime | null;
  /** CHAT_EMAIL_AFTER_MS and CHAT_SEND_PER_MINUTE. Default: their defaults. */
  chat?: ChatSettings;
  /**
   * The API process's typing indicators (fed by its LISTEN connection). Optional: without it
   * (`createCaller` tests, scripts) `chat.onTyping` answers with an error; `chat.typing` still sends.
   */
  typing?: TypingBus | null;
}

/** How the caller presented itself, as the transport adapter saw it. */
export interface RequestInfo {
  requestId: string;
  logger?: ContextLogger;
  /** The session token and where it came from: a cookie, `Authorization: Bearer`, or WebSocket connectionParams. */
  credential: { token: string; source: 'cookie' | 'bearer' | 'connectionParams' } | null;
  /** The request passed the CSRF origin check (same-origin fetch metadata or an allowed Origin). */
  trustedOrigin: boolean;
  /** A browser said the request is cross-site (Sec-Fetch-Site) and its Origin is not allowed. */
  crossSite: boolean;
  /**
   * One context serves many calls (a WebSocket): the session is then checked again on every call, so a
   * log-out, revocation, disabling or demotion takes effect on open sockets too.
   */
  longLived?: boolean;
  /**
   * Aborted when the connection closes (the WebSocket; the HTTP request of an SSE stream). A subscription
   * whose connection closes while it is being set up is never iterated by tRPC, so its guard would hold
   * its session watch and connection slot forever: the guard lets go on this signal too.
   */
  closed?: AbortSignal;
  ip: string | null;
  userAgent: string | null;
  /**
   * The device token of the request's device cookie (`keelson_device`), given to the client at its last
   * log-in; null or absent when none. Clients without cookies pass it to `auth.logIn` instead.
   */
  deviceToken?: string | null;
  /** Adds a Set-Cookie header to the HTTP response; absent over WebSocket. */
  setCookie?: (cookie: string) => void;
}

/**
 * Per-request context. The EntityManager is not here: a middleware forks one per procedure call, so the
 * calls of one HTTP batch never share an identity map. The session is looked up on first use only, so
 * public procedures (the catalogue) never pay for it.
 */
export interface Context {
  orm: MikroORM;
  logger: ContextLogger;
  /** Correlates the client's error message with logs and traces. */
  requestId: string;
  sessions: SessionConfig;
  commerce: CommerceSettings;
  /** Whether OpenID Connect sign-in is configured. */
  oidc: boolean;
  /** Null when the process runs without one (see ContextDeps). */
  catalogCache: CatalogCache | null;
  /** Null when the process runs without them (see ContextDeps). */
  metrics: ApiMetrics | null;
  /** Null when the process runs without one (see ContextDeps). */
  events: EventHub | null;
  /** Null when the process runs without one (see ContextDeps). */
  dashboard: DashboardFeed | null;
  realtime: Realtime | null;
  chat: ChatSettings;
  /** Null when the process runs without one (see ContextDeps). */
  typing: TypingBus | null;
  /**
   * Subscriptions open on this context: one context serves a whole WebSocket, so this is the count
   * WS_MAX_SUBSCRIPTIONS_PER_CONNECTION limits.
   */
  openSubscriptions: { count: number };
  /** The subscription being served, set by the subscription middleware; null for queries and mutations. */
  live: LiveSubscription | null;
  request: RequestInfo;
  /** The caller's valid session, or null. Memoised per request. */
  session(): Promise<ValidSession | null>;
  /** Sets (or, with null, clears) the session cookie for browser clients. */
  setSessionCookie(token: string | null): void;
  /** Sets the device cookie for browser clients (see `auth.logIn`). */
  setDeviceCookie(token: string): void;
}

export function createContext(deps: ContextDeps, request: RequestInfo): Context {
  let session: Promise<ValidSession | null> | undefined;
  const setSessionCookie = (token: string | null) =>
    request.setCookie?.(token ? sessionCookie(deps.sessions, token) : blankSessionCookie(deps.sessions));
  const resolve = async (): Promise<ValidSession | null> => {
    const credential = request.credential;
    if (!credential) return null;
    const valid = await validateSession(deps.orm.em.fork(), deps.sessions, credential.token);
    if (credential.source === 'cookie') {
      // A renewed session gets a cookie with the new expiry; a dead one gets its cookie cleared.
      if (!valid) setSessionCookie(null);
      else if (valid.session.fresh) setSessionCookie(credential.token);
    }
    return valid;
  };
  return {
    orm: deps.orm,
    logger: request.logger ?? deps.logger,
    requestId: request.requestId,
    sessions: deps.sessions,
    commerce: deps.commerce,
    oidc: deps.oidc ?? false,
    catalogCache: deps.catalogCache ?? null,
    metrics: deps.metrics ?? null,
    events: deps.events ?? null,
    dashboard: deps.dashboard ?? null,
    realtime: deps.realtime ?? null,
    chat: deps.chat ?? defaultChatSettings,
    typing: deps.typing ?? null,
    openSubscriptions: { count: 0 },
    live: null,
    request,
    session: () => {
      if (request.longLived) return resolve();
      session ??= resolve();
      return session;
    },
    setSessionCookie,
    setDeviceCookie: (token) => request.setCookie?.(deviceCookie(deps.sessions, token)),
  };
}
