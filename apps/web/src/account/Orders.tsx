import { useInfiniteQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { RequireUser } from '../session.tsx';
import { useTRPC } from '../trpc.ts';
import { dateTime, money } from '../ui/format.ts';
import { Empty, ErrorNotice, Loading } from '../ui/status.tsx';
import { AccountNav } from './AccountNav.tsx';
import { OrderStatus } from './OrderStatus.tsx';

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
      <table>
        <caption className="sr-only">Your orders, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Order</th>
            <th scope="col">Placed</th>
            <th scope="col">Items</th>
            <th scope="col" className="num">
              Total
            </th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {items.map((o) => (
            <tr key={o.id}>
              <td>
                <Link to={`/orders/${o.id}`}>#{o.id.slice(-8)}</Link>
              </td>
              <td>{dateTime(o.createdAt)}</td>
              <td>{o.itemCount}</td>
              <td className="num">{money(o.totalCents, o.currency)}</td>
              <td>
                <OrderStatus status={o.status} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
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
