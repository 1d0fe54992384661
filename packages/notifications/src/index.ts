export {
  notifyOrderStatus,
  notifyReportReady,
  type OrderStatusChange,
  orderRef,
  orderStatusNotification,
} from './messages.ts';
export {
  inboxQuery,
  listNotifications,
  markRead,
  type NotifyInput,
  notificationEvent,
  notify,
  unreadCount,
  unreadCountQuery,
} from './notifications.ts';
export * from './schemas.ts';
