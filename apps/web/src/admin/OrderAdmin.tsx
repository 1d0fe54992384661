import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useParams } from 'react-router';
import { useLive } from '../live.ts';
import { OrderHistory, OrderStatus } from '../orders.tsx';
import { RequireAdmin } from '../session.tsx';
import { type RouterOutputs, useTRPC } from '../trpc.ts';
import { Field, fieldIssues } from '../ui/form.tsx';
import { money } from '../ui/format.ts';
import { ErrorNotice, LiveIndicator, Loading } from '../ui/status.tsx';
import { AdminNav } from './AdminNav.tsx';

type Order = RouterOutputs['orders']['getAny'];

function OrderActions({ order }: { order: Order }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [note, setNote] = useState('');
  const done = {
    onSuccess: (o: Order) => {
      setNote('');
      queryClient.setQueryData(trpc.orders.getAny.queryKey({ id: o.id }), o);
    },
  };
  const ship = useMutation(trpc.orders.markShipped.mutationOptions(done));
  const deliver = useMutation(trpc.orders.markDelivered.mutationOptions(done));
  const refund = useMutation(trpc.orders.refund.mutationOptions(done));
  const input = { id: order.id, ...(note.trim() ? { note: note.trim() } : {}) };
  const error = ship.error ?? deliver.error ?? refund.error;
  const pending = ship.isPending || deliver.isPending || refund.isPending;
  return (
    <div className="stack">
      <Field
        label="Note (kept in the history)"
        value={note}
        onChange={(e) => setNote(e.target.value)}
        issue={fieldIssues(error).note}
      />
      <p className="row">
        {order.status === 'paid' ? (
          <button type="button" onClick={() => ship.mutate(input)} disabled={pending}>
            Mark shipped
          </button>
        ) : null}
        {order.status === 'shipped' ? (
          <button type="button" onClick={() => deliver.mutate(input)} disabled={pending}>
            Mark delivered
          </button>
        ) : null}
        {['paid', 'shipped', 'delivered'].includes(order.status) && !order.refunded ? (
          <button type="button" className="secondary" onClick={() => refund.mutate(input)} disabled={pending}>
            {order.status === 'paid' ? 'Cancel and refund' : 'Refund'}
          </button>
        ) : null}
      </p>
      <ErrorNotice error={error} />
    </div>
  );
}

function OrderView({ id }: { id: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const order = useQuery(trpc.orders.getAny.queryOptions({ id }));
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.orders.getAny.queryKey({ id }) });
  const live = useLive(trpc.orders.onStatusChange.subscriptionOptions({ orderId: id }, { onData: refresh }), refresh);
  if (order.isPending) return <Loading what="Loading the order" />;
  if (order.error) return <ErrorNotice error={order.error} />;
  const o = order.data;
  return (
    <div className="stack">
      <p className="row order-status">
        <span>
          Order #{o.id.slice(-8)}: <OrderStatus status={o.status} />
          {o.refunded ? ' (refunded)' : ''}
        </span>
        <LiveIndicator state={live.status} />
      </p>
      {o.paymentError ? <p className="warn">Payment error: {o.paymentError}</p> : null}
      <table>
        <caption>Lines · total {money(o.totalCents, o.currency)}</caption>
        <tbody>
          {o.lines.map((l) => (
            <tr key={l.productId}>
              <td>{l.productName}</td>
              <td className="num">{l.quantity} ×</td>
              <td className="num">{money(l.unitPriceCents, o.currency)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <OrderActions order={o} />
      <h2>History</h2>
      <OrderHistory history={o.history} />
    </div>
  );
}

export default function OrderAdmin() {
  const { id = '' } = useParams();
  return (
    <RequireAdmin>
      {() => (
        <section>
          <h1>Order</h1>
          <AdminNav />
          <OrderView id={id} key={id} />
        </section>
      )}
    </RequireAdmin>
  );
}
