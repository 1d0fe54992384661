/**
 * The one client of the app: `@keelson/client` on the page's own origin (the API serves the app), its
 * types from the router, and tRPC's TanStack Query integration over it. Queries and mutations go over
 * batched HTTP; subscriptions over one WebSocket, resumed from the last event id after a reconnect.
 */
import { type AppRouter, createClient, type RouterInputs, type RouterOutputs } from '@keelson/client';
import { createTRPCContext } from '@trpc/tanstack-react-query';

export type { RouterInputs, RouterOutputs };

export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();

// Same origin: the HttpOnly session cookie goes along by itself; no token lives in JavaScript.
export const trpcClient = createClient({ url: '/trpc', credentials: 'same-origin' });
