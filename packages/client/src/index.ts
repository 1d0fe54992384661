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
import type { AppRouter } from './router.ts';

export type { AppRouter };
export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;
export { TRPCClientError };

export interface ClientOptions {
  /** Base URL of the API's tRPC endpoint, e.g. `http://localhost:3000/trpc`. */
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
   * cookie that `auth.logIn` sets (same site, or `credentials: 'include'` via `fetch`).
   */
  token?: () => string | null | undefined;
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

function toWsUrl(url: string): string {
  const u = new URL(url);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.toString();
}

/**
 * Subscriptions over SSE. The `eventsource` package rather than the platform's EventSource: Node has
 * none, and a browser's cannot send `Authorization` (cookies still work, with `withCredentials`).
 */
function sseLink(opts: ClientOptions): TRPCLink<AppRouter> {
  const baseFetch = opts.fetch ?? fetch;
  return httpSubscriptionLink({
    url: opts.url,
    transformer: superjson,
    EventSource,
    eventSourceOptions: () => ({
      withCredentials: true,
      fetch: async (input, init) => {
        const token = opts.token?.();
        return baseFetch(input, {
          ...init,
          headers: {
            ...init?.headers,
            ...(await opts.headers?.()),
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
        });
      },
    }),
  });
}

export function createClient(opts: ClientOptions): KeelsonClient {
  // The WebSocket opens on first use only, so an HTTP-only client never holds a socket.
  const wsClient = createWSClient({
    url: toWsUrl(opts.url),
    lazy: { enabled: true, closeMs: 10_000 },
    connectionParams: () => {
      const token = opts.token?.();
      return token ? { token } : {};
    },
  });
  const ws: TRPCLink<AppRouter> = wsLink({ client: wsClient, transformer: superjson });
  const http: TRPCLink<AppRouter> = httpBatchLink({
    url: opts.url,
    transformer: superjson,
    maxItems: opts.maxBatchItems ?? 50,
    // Batched queries travel in the URL; longer ones are split, well below Node's 16 KiB header limit.
    maxURLLength: 8_000,
    headers: async () => {
      const token = opts.token?.();
      return { ...(await opts.headers?.()), ...(token ? { authorization: `Bearer ${token}` } : {}) };
    },
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
  });
  const links =
    opts.transport === 'ws'
      ? [ws]
      : [
          splitLink({
            condition: (op: Operation) => op.type === 'subscription',
            true: opts.transport === 'sse' ? sseLink(opts) : ws,
            false: http,
          }),
        ];
  const client = createTRPCClient<AppRouter>({ links });
  sockets.set(client, wsClient);
  return client;
}
