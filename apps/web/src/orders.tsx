/** How orders look wherever they are listed: the customer's pages and the admin console alike. */
import { Link } from 'react-router';
import type { RouterOutputs } from './trpc.ts';
import { dateTime, money } from './ui/format.ts';

type Order = RouterOutputs['orders']['get'];
type Status = Order['status'];

const LABELS: Record<Status, string> = {
  pending_payment: 'pending payment',
  paid: 'paid',
  shipped: 'shipped',
  delivered: 'delivered',
  cancelled: 'cancelled',
  payment_failed: 'payment failed',
  refunded: 'refunded',
};
/** Every status, in the order an order goes through them. */
export const ORDER_STATUSES = Object.keys(LABELS) as Status[];

/** An order's status as words, with the API's own value in `data-status` (what tests and styles key on). */
export function OrderStatus({ status }: { status: Status }) {
  return (
    <strong className="status" data-status={status}>
      {LABELS[status]}
    </strong>
  );
}

/** A page of orders, each linking to `href(id)`. */
export function OrderTable({
  orders,
  href,
  caption,
}: {
  orders: RouterOutputs['orders']['list']['items'];
  href: (id: string) => string;
  caption: string;
}) {
  return (
    <table>
      <caption className="sr-only">{caption}</caption>
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
        {orders.map((o) => (
          <tr key={o.id}>
            <td>
              <Link to={href(o.id)}>#{o.id.slice(-8)}</Link>
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
  );
}

/** An order's history, oldest first: each status, who caused it, and the note kept with it. */
export function OrderHistory({ history }: { history: Order['history'] }) {
  return (
    <ol className="history">
      {history.map((h) => (
        <li key={`${h.toStatus}-${h.at.toISOString()}`}>
          {dateTime(h.at)}: <OrderStatus status={h.toStatus} /> ({h.actor}){h.note ? ` — ${h.note}` : ''}
        </li>
      ))}
    </ol>
  );
}
