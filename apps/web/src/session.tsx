/**
 * Who is signed in: `auth.me`, cached by TanStack Query and read by every page through `useMe`.
 * Pages for signed-in users wrap themselves in `RequireUser`; admin pages in `RequireAdmin`. These only
 * decide what to draw: the server checks every call itself (a customer's call to an admin procedure
 * answers FORBIDDEN whatever the page shows).
 */
import { type QueryClient, useQuery } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { Navigate, useLocation } from 'react-router';
import { type RouterOutputs, useTRPC } from './trpc.ts';
import { Loading } from './ui/status.tsx';

export type Me = NonNullable<RouterOutputs['auth']['me']>;

const ME_KEY = [['auth', 'me']];

export function useMe() {
  const trpc = useTRPC();
  const me = useQuery(trpc.auth.me.queryOptions(undefined, { staleTime: 60_000 }));
  return { me: me.data ?? null, loading: me.isPending };
}

/** Forgets the user at once (the next `auth.me` asks the server again) and drops their cached data. */
export function onSignedOut(queryClient: QueryClient): void {
  queryClient.setQueriesData({ queryKey: ME_KEY }, null);
  queryClient.removeQueries({ predicate: (q) => JSON.stringify(q.queryKey[0]) !== JSON.stringify(ME_KEY[0]) });
}

/** Where sign-in sends the user back to: a path of this app only, never another site. */
export function safeReturnTo(raw: string | null): string {
  return raw?.startsWith('/') && !raw.startsWith('//') && !raw.startsWith('/\\') ? raw : '/account';
}

export function signInPath(returnTo: string): string {
  return `/sign-in?returnTo=${encodeURIComponent(returnTo)}`;
}

export function RequireUser({ children }: { children: (me: Me) => ReactNode }) {
  const { me, loading } = useMe();
  const location = useLocation();
  if (loading) return <Loading />;
  if (!me) return <Navigate to={signInPath(location.pathname + location.search)} replace />;
  return children(me);
}

export function RequireAdmin({ children }: { children: (me: Me) => ReactNode }) {
  return (
    <RequireUser>
      {(me) =>
        me.role === 'admin' ? (
          children(me)
        ) : (
          <section>
            <h1>Not available</h1>
            <p>This page is for the store's staff.</p>
          </section>
        )
      }
    </RequireUser>
  );
}
