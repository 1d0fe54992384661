/**
 * `@keelson/client`: the typed client for TypeScript frontends (and Keelson's own tests).
 * It imports only *types* from the router package, never server code; the published package carries the
 * router's type without the server's context (router.ts), so a frontend installs nothing of the server.
 */

import {
  createTRPCClient,
  createWSClient,
  httpBatchLink,
  httpSubscriptionLink,
  type Operation,
  splitLink,
  type TRPCClient,
  TRPCClientError,
  type TRPCLink,
  wsLink,
} from '@trpc/client';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import { EventSource } from 'eventsource';
import superjson from 'superjson';
import { resolveApiUrl, toWebSocketUrl } from './apiUrl.ts';
import type { AppRouter } from './router.ts';

export type { AppRouter };
export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;
export { TRPCClientError };

export interface ClientOptions {
  /**
   * URL of the API's tRPC endpoint: `http://localhost:3000/trpc`, or in a browser a relative one such as
   * `/trpc`, resolved against the page (WebSocket then on ws:, or wss: for an https: page). Outside a
   * browser it must be absolute.
   */
  url: string;
  /**
   * `http` (default): queries and mutations over batched HTTP, subscriptions over WebSocket.
   * `ws`: everything over one WebSocket.
   * `sse`: queries and mutations over batched HTTP, subscriptions as Server-Sent Events over HTTP GET
   * (through proxies that refuse WebSocket upgrades; one HTTP request per subscription).
   */
  transport?: 'http' | 'ws' | 'sse';
  /** Most calls per HTTP batch; keep it at or below the server's TRPC_MAX_BATCH_SIZE. Default: 50. */
  maxBatchItems?: number;
  /**
   * Session token for bearer clients (mobile apps, servers, scripts): sent as `Authorization: Bearer`
   * over HTTP and in `connectionParams` over WebSocket. Browsers leave it out and use the HttpOnly
   * cookie that `auth.logIn` sets (see `credentials`).
   */
  token?: () => string | null | undefined;
  /**
   * Whether browsers send cookies (the session) with HTTP and SSE requests, as `fetch`'s `credentials`.
   * `include` lets a frontend on another origin sign in; the API accepts credentials only from its allowed
   * origins. `same-origin` sends them to the page's own origin only; `omit` never. Default: `include`.
   */
  credentials?: 'include' | 'same-origin' | 'omit';
  /** Extra headers for every HTTP request. */
  headers?: () => Record<string, string> | Promise<Record<string, string>>;
  /** A custom `fetch` (tests, React Native). Default: the global one. */
  fetch?: typeof fetch;
}

export type KeelsonClient = TRPCClient<AppRouter>;

// The tRPC client is a proxy in which every property is a procedure path, so the socket to close is
// kept beside it rather than on it.
const sockets = new WeakMap<KeelsonClient, ReturnType<typeof createWSClient>>();

/** Closes the client's WebSocket, if it opened one. Pending calls on it fail. */
export async function closeClient(client: KeelsonClient): Promise<void> {
  await sockets.get(client)?.close();
}

/** The client's options with the defaults filled in, the URL resolved and credentials on every request. */
interface Resolved {
  url: string;
  fetch: typeof fetch;
  authHeaders(): Promise<Record<string, string>>;
}

function resolve(opts: ClientOptions): Resolved {
  const url = resolveApiUrl(opts.url).href;
  const credentials = opts.credentials ?? 'include';
  // The global looked up per call, so that a fetch installed after the client was created is used.
  const baseFetch: typeof fetch = opts.fetch ?? ((input, init) => fetch(input, init));
  return {
    url,
    fetch: (input, init) => baseFetch(input, { ...init, credentials }),
    authHeaders: async () => {
      const token = opts.token?.();
      return { ...(await opts.headers?.()), ...(token ? { authorization: `Bearer ${token}` } : {}) };
    },
  };
}

/**
 * Subscriptions over SSE. The `eventsource` package rather than the platform's EventSource: Node has
 * none, and a browser's cannot send `Authorization`. It sets `credentials` only where it sees a `window`,
 * so the fetch below sets it itself.
 */
function sseLink(opts: ClientOptions, resolved: Resolved): TRPCLink<AppRouter> {
  return httpSubscriptionLink({
    url: resolved.url,
    transformer: superjson,
    EventSource,
    eventSourceOptions: () => ({
      withCredentials: (opts.credentials ?? 'include') === 'include',
      fetch: async (input, init) =>
        resolved.fetch(input, { ...init, headers: { ...init?.headers, ...(await resolved.authHeaders()) } }),
    }),
  });
}

/**
 * When to try again after the WebSocket dropped: at once, then 0.5, 1, 2, 4 s and every 5 s, each with
 * jitter. A deploy restarts replicas in seconds; tRPC's default (doubling up to 30 s) left a page
 * without live data for up to half a minute after the replica was back, and the jitter keeps every
 * client of a restarted replica from reconnecting in the same instant.
 */
export function reconnectDelayMs(attempt: number): number {
  if (attempt === 0) return 0;
  const base = Math.min(250 * 2 ** attempt, 5_000);
  return Math.round(base * (0.5 + Math.random() / 2));
}

export function createClient(opts: ClientOptions): KeelsonClient {
  const resolved = resolve(opts);
  // The WebSocket opens on first use only, so an HTTP-only client never holds a socket.
  const wsClient = createWSClient({
    url: toWebSocketUrl(new URL(resolved.url)),
    lazy: { enabled: true, closeMs: 10_000 },
    retryDelayMs: reconnectDelayMs,
    connectionParams: () => {
      const token = opts.token?.();
      return token ? { token } : {};
    },
  });
  const ws: TRPCLink<AppRouter> = wsLink({ client: wsClient, transformer: superjson });
  const http: TRPCLink<AppRouter> = httpBatchLink({
    url: resolved.url,
    transformer: superjson,
    maxItems: opts.maxBatchItems ?? 50,
    // Batched queries travel in the URL; longer ones are split, well below Node's 16 KiB header limit.
    maxURLLength: 8_000,
    headers: resolved.authHeaders,
    fetch: resolved.fetch,
  });
  const links =
    opts.transport === 'ws'
      ? [ws]
      : [
          splitLink({
            condition: (op: Operation) => op.type === 'subscription',
            true: opts.transport === 'sse' ? sseLink(opts, resolved) : ws,
            false: http,
          }),
        ];
  const client = createTRPCClient<AppRouter>({ links });
  sockets.set(client, wsClient);
  return client;
}
