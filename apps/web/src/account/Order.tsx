/**
 * One order, its status kept live: `orders.onStatusChange` for this order pushes each change (paid by
 * the worker, shipped by the staff), and the order is read again, history included.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useParams } from 'react-router';
import { ChatPanel } from '../chat/ChatPanel.tsx';
import { StartConversation } from '../chat/StartConversation.tsx';
import { errorInfo } from '../errors.ts';
import { useLive } from '../live.ts';
import { OrderHistory, OrderStatus } from '../orders.tsx';
import { RequireUser } from '../session.tsx';
import { useTRPC } from '../trpc.ts';
import { money } from '../ui/format.ts';
import { ErrorNotice, LiveIndicator, Loading } from '../ui/status.tsx';
import { AccountNav } from './AccountNav.tsx';

function OrderView({ id }: { id: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const order = useQuery(trpc.orders.get.queryOptions({ id }));
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.orders.get.queryKey({ id }) });
  const live = useLive(trpc.orders.onStatusChange.subscriptionOptions({ orderId: id }, { onData: refresh }), refresh);
  const cancel = useMutation(
    trpc.orders.cancel.mutationOptions({
      onSuccess: (o) => queryClient.setQueryData(trpc.orders.get.queryKey({ id }), o),
    }),
  );
  if (order.isPending) return <Loading what="Loading the order" />;
  if (order.error) {
    return (
      <>
        <h1>{errorInfo(order.error).code === 'NOT_FOUND' ? 'Order not found' : 'Order'}</h1>
        <ErrorNotice error={order.error} />
        <Link to="/orders">Your orders</Link>
      </>
    );
  }
  const o = order.data;
  return (
    <>
      <h1>Order #{o.id.slice(-8)}</h1>
      <AccountNav />
      <p className="order-status row">
        <span>
          Status: <OrderStatus status={o.status} />
        </span>
        <LiveIndicator state={live.status} label="Live" />
      </p>
      {o.paymentError ? (
        <p className="error" role="alert">
          The payment failed: {o.paymentError}. <Link to="/cart">Try again from your cart</Link> with another card.
        </p>
      ) : null}
      <table>
        <caption className="sr-only">Lines</caption>
        <thead>
          <tr>
            <th scope="col">Product</th>
            <th scope="col" className="num">
              Price
            </th>
            <th scope="col" className="num">
              Quantity
            </th>
            <th scope="col" className="num">
              Total
            </th>
          </tr>
        </thead>
        <tbody>
          {o.lines.map((l) => (
            <tr key={l.productId}>
              <td>
                <Link to={`/products/${encodeURIComponent(l.productSlug)}`}>{l.productName}</Link>
              </td>
              <td className="num">{money(l.unitPriceCents, o.currency)}</td>
              <td className="num">{l.quantity}</td>
              <td className="num">{money(l.lineTotalCents, o.currency)}</td>
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr>
            <th scope="row" colSpan={3}>
              Tax
            </th>
            <td className="num">{money(o.taxCents, o.currency)}</td>
          </tr>
          <tr>
            <th scope="row" colSpan={3}>
              Total
            </th>
            <td className="num">
              <strong>{money(o.totalCents, o.currency)}</strong>
            </td>
          </tr>
        </tfoot>
      </table>
      <h2>History</h2>
      <OrderHistory history={o.history} />
      {o.status === 'pending_payment' || o.status === 'paid' ? (
        <p>
          <button type="button" className="secondary" onClick={() => cancel.mutate({ id })} disabled={cancel.isPending}>
            Cancel the order
          </button>
        </p>
      ) : null}
      <ErrorNotice error={cancel.error} />
      <OrderChat orderId={id} />
    </>
  );
}

/** The conversation about this order, live, or the form that starts one. */
function OrderChat({ orderId }: { orderId: string }) {
  const trpc = useTRPC();
  const list = useQuery(trpc.chat.list.queryOptions({ limit: 100 }));
  if (list.isPending) return null;
  const existing = list.data?.items.find((c) => c.orderId === orderId);
  return (
    <section aria-labelledby="order-chat-h">
      <h2 id="order-chat-h">Questions about this order</h2>
      {existing ? (
        <ChatPanel conversationId={existing.id} side="customer" />
      ) : (
        <StartConversation orderId={orderId} label="Ask about this order" />
      )}
    </section>
  );
}

export default function Order() {
  const { id = '' } = useParams();
  return <RequireUser>{() => <section>{<OrderView id={id} key={id} />}</section>}</RequireUser>;
}
