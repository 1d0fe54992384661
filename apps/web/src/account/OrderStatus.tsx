import type { RouterOutputs } from '../trpc.ts';

type Status = RouterOutputs['orders']['get']['status'];

const LABELS: Record<Status, string> = {
  pending_payment: 'pending payment',
  paid: 'paid',
  shipped: 'shipped',
  delivered: 'delivered',
  cancelled: 'cancelled',
  payment_failed: 'payment failed',
  refunded: 'refunded',
};

/** An order's status as words, with the API's own value in `data-status` (what tests and styles key on). */
export function OrderStatus({ status }: { status: Status }) {
  return (
    <strong className="status" data-status={status}>
      {LABELS[status]}
    </strong>
  );
}
