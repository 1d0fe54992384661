import { useInfiniteQuery, useQueryClient } from '@tanstack/react-query';
import { useSearchParams } from 'react-router';
import { useLive } from '../live.ts';
import { ORDER_STATUSES, OrderTable } from '../orders.tsx';
import { RequireAdmin } from '../session.tsx';
import { useTRPC } from '../trpc.ts';
import { Empty, ErrorNotice, LiveIndicator, Loading } from '../ui/status.tsx';
import { AdminNav } from './AdminNav.tsx';

function AllOrders() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [params, setParams] = useSearchParams();
  const raw = params.get('status');
  const status = ORDER_STATUSES.find((s) => s === raw);
  const list = useInfiniteQuery(
    trpc.orders.listAll.infiniteQueryOptions(
      { limit: 50, ...(status ? { status } : {}) },
      { getNextPageParam: (p) => p.nextCursor ?? undefined },
    ),
  );
  // Every order's changes (an admin's subscription without orderId): the list is read again.
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.orders.listAll.pathKey() });
  const live = useLive(trpc.orders.onStatusChange.subscriptionOptions({}, { onData: refresh }), refresh);
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
          {ORDER_STATUSES.map((s) => (
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
        <OrderTable orders={items} href={(id) => `/admin/orders/${id}`} caption="Orders, newest first" />
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
          <AllOrders />
        </section>
      )}
    </RequireAdmin>
  );
}
