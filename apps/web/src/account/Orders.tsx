import { useInfiniteQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { OrderTable } from '../orders.tsx';
import { RequireUser } from '../session.tsx';
import { useTRPC } from '../trpc.ts';
import { Empty, ErrorNotice, Loading } from '../ui/status.tsx';
import { AccountNav } from './AccountNav.tsx';

function OrderList() {
  const trpc = useTRPC();
  const orders = useInfiniteQuery(
    trpc.orders.list.infiniteQueryOptions({ limit: 20 }, { getNextPageParam: (p) => p.nextCursor ?? undefined }),
  );
  if (orders.isPending) return <Loading what="Loading your orders" />;
  if (orders.error) return <ErrorNotice error={orders.error} />;
  const items = orders.data.pages.flatMap((p) => p.items);
  if (items.length === 0) {
    return (
      <Empty>
        No orders yet. <Link to="/">Find something you like</Link>
      </Empty>
    );
  }
  return (
    <>
      <OrderTable orders={items} href={(id) => `/orders/${id}`} caption="Your orders, newest first" />
      {orders.hasNextPage ? (
        <button type="button" className="secondary" onClick={() => void orders.fetchNextPage()}>
          Older orders
        </button>
      ) : null}
    </>
  );
}

export default function Orders() {
  return (
    <RequireUser>
      {() => (
        <section>
          <h1>Your orders</h1>
          <AccountNav />
          <OrderList />
        </section>
      )}
    </RequireUser>
  );
}
