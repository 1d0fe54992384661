/** The frame of every page: the header (store, cart, live notification badge, account, admin), the page. */
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { Suspense } from 'react';
import { NavLink, Outlet, ScrollRestoration } from 'react-router';
import { useLive } from './live.ts';
import { useMe } from './session.tsx';
import { useTRPC } from './trpc.ts';
import { Loading } from './ui/status.tsx';

function CartLink() {
  const trpc = useTRPC();
  const cart = useQuery(trpc.cart.get.queryOptions());
  const units = cart.data?.lines.reduce((n, l) => n + l.quantity, 0) ?? 0;
  return (
    <NavLink to="/cart">
      Cart{' '}
      {units > 0 ? (
        <span className="badge" data-testid="cart-count">
          {units}
          <span className="sr-only"> items</span>
        </span>
      ) : null}
    </NavLink>
  );
}

/** The unread count, kept live: each new notification refetches the inbox's queries. */
function NotificationsLink() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const unread = useQuery(trpc.notifications.list.queryOptions({ unreadOnly: true, limit: 1 }));
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.notifications.list.pathKey() });
  useLive(trpc.notifications.onNew.subscriptionOptions({}, { onData: refresh }), refresh);
  const count = unread.data?.unreadCount ?? 0;
  return (
    <NavLink to="/account/notifications">
      Notifications{' '}
      {count > 0 ? (
        <span className="badge" data-testid="unread-count">
          {count}
          <span className="sr-only"> unread</span>
        </span>
      ) : null}
    </NavLink>
  );
}

export function Layout() {
  const { me } = useMe();
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="site">
        <nav aria-label="Main">
          <NavLink to="/" end className="brand">
            Keelson Store
          </NavLink>
          {me ? <CartLink /> : null}
          {me ? <NotificationsLink /> : null}
          {me?.role === 'admin' ? <NavLink to="/admin">Admin</NavLink> : null}
          {me ? <NavLink to="/account">{me.name}</NavLink> : <NavLink to="/sign-in">Sign in</NavLink>}
        </nav>
      </header>
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<Loading />}>
          <Outlet />
        </Suspense>
      </main>
      <ScrollRestoration />
    </>
  );
}
