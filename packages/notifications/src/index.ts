export {
  notifyOrderStatus,
  notifyReportReady,
  type OrderStatusChange,
  orderRef,
  orderStatusNotification,
} from './messages.ts';
export {
  listNotifications,
  markRead,
  type NotifyInput,
  notificationFromEvent,
  notify,
  unreadCount,
} from './notifications.ts';
export * from './schemas.ts';
