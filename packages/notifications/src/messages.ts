/**
 * Which business events notify whom, and what they say. The callers are the places where those events
 * happen: the order state machine (`transition`) and report generation, each in its own transaction.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { type NotifyInput, notify } from './notifications.ts';
import type { NotificationDto } from './schemas.ts';

/** A short reference customers can quote: the end of the order id (the UUIDv7's random part). */
export const orderRef = (orderId: string) => orderId.slice(-8).toUpperCase();

function money(cents: number, currency: string): string {
  return new Intl.NumberFormat('en', { style: 'currency', currency }).format(cents / 100);
}

export interface OrderStatusChange {
  orderId: string;
  /** The customer who placed the order. */
  userId: string;
  /** The status the order just reached. */
  status: string;
  totalCents: number;
  currency: string;
  /** Why, for a failed payment (the provider's words). */
  reason?: string | null;
}

/** The customer's notification for a status an order just reached, or null for statuses that make none. */
export function orderStatusNotification(change: OrderStatusChange): NotifyInput | null {
  const ref = orderRef(change.orderId);
  const base = {
    userId: change.userId,
    data: { orderId: change.orderId },
    eventKey: `order:${change.orderId}:${change.status}`,
  };
  const total = money(change.totalCents, change.currency);
  switch (change.status) {
    case 'paid':
      return {
        ...base,
        kind: 'order_paid',
        title: `Order ${ref} is paid`,
        body: `We received your payment of ${total}; we are preparing your order.`,
      };
    case 'shipped':
      return { ...base, kind: 'order_shipped', title: `Order ${ref} has shipped`, body: 'Your order is on its way.' };
    case 'payment_failed':
      return {
        ...base,
        kind: 'payment_failed',
        title: `Payment for order ${ref} failed`,
        body: `We could not take your payment of ${total}${change.reason ? ` (${change.reason})` : ''}. The order will not ship, and anything held on your card is released.`,
      };
    default:
      return null;
  }
}

/** Notifies the customer of an order's new status, if that status calls for it (in the transition's transaction). */
export async function notifyOrderStatus(tx: EntityManager, change: OrderStatusChange): Promise<NotificationDto | null> {
  const input = orderStatusNotification(change);
  return input ? notify(tx, input) : null;
}

/** Tells the admin who asked for a report that its file is ready (in the transaction that marks it ready). */
export function notifyReportReady(
  tx: EntityManager,
  report: { reportId: string; requestedBy: string; rowCount: number; downloadUrl: string },
): Promise<NotificationDto | null> {
  return notify(tx, {
    userId: report.requestedBy,
    kind: 'report_ready',
    title: 'Your sales report is ready',
    body: `${report.rowCount} ${report.rowCount === 1 ? 'row' : 'rows'}, ready to download.`,
    data: { reportId: report.reportId, downloadUrl: report.downloadUrl },
    eventKey: `report:${report.reportId}:ready`,
  });
}
