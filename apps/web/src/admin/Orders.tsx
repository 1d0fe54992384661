import { useInfiniteQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useSearchParams } from 'react-router';
import { OrderStatus } from '../account/OrderStatus.tsx';
import { useLive } from '../live.ts';
import { RequireAdmin } from '../session.tsx';
import { type RouterInputs, useTRPC } from '../trpc.ts';
import { dateTime, money } from '../ui/format.ts';
import { Empty, ErrorNotice, LiveIndicator, Loading } from '../ui/status.tsx';
import { AdminNav } from './AdminNav.tsx';

type Status = NonNullable<RouterInputs['orders']['listAll']['status']>;
const STATUSES: Status[] = [
  'pending_payment',
  'paid',
  'shipped',
  'delivered',
  'cancelled',
  'payment_failed',
  'refunded',
];

function OrderTable() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [params, setParams] = useSearchParams();
  const raw = params.get('status');
  const status = STATUSES.find((s) => s === raw);
  const list = useInfiniteQuery(
    trpc.orders.listAll.infiniteQueryOptions(
      { limit: 50, ...(status ? { status } : {}) },
      { getNextPageParam: (p) => p.nextCursor ?? undefined },
    ),
  );
  // Every order's changes (an admin's subscription without orderId): the list is read again.
  const live = useLive(
    trpc.orders.onStatusChange.subscriptionOptions(
      {},
      { onData: () => queryClient.invalidateQueries({ queryKey: trpc.orders.listAll.pathKey() }) },
    ),
  );
  const items = list.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <>
      <p className="row">
        <label htmlFor="o-status">Status</label>
        <select
          id="o-status"
          value={status ?? ''}
          onChange={(e) => setParams(e.target.value ? { status: e.target.value } : {})}
        >
          <option value="">All</option>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
        <LiveIndicator state={live.status} />
      </p>
      {list.isPending ? <Loading what="Loading orders" /> : null}
      <ErrorNotice error={list.error} />
      {list.isSuccess && items.length === 0 ? <Empty>No orders.</Empty> : null}
      {items.length > 0 ? (
        <table>
          <caption className="sr-only">Orders, newest first</caption>
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
                  <Link to={`/admin/orders/${o.id}`}>#{o.id.slice(-8)}</Link>
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
      ) : null}
      {list.hasNextPage ? (
        <button type="button" className="secondary" onClick={() => void list.fetchNextPage()}>
          Older
        </button>
      ) : null}
    </>
  );
}

export default function Orders() {
  return (
    <RequireAdmin>
      {() => (
        <section>
          <h1>Orders</h1>
          <AdminNav />
          <OrderTable />
        </section>
      )}
    </RequireAdmin>
  );
}
