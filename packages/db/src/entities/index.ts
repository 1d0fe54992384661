import { AnalyticsEventSchema, AnalyticsFunnelHourlySchema, AnalyticsHourlySchema } from './AnalyticsEvent.ts';
import { AppEventPrunedSchema, AppEventSchema } from './AppEvent.ts';
import { AuthTokenSchema } from './AuthToken.ts';
import { CartItemSchema } from './CartItem.ts';
import { ChatConversationSchema, ChatMessageSchema } from './Chat.ts';
import { DeviceSchema } from './Device.ts';
import { EmailDeliverySchema } from './EmailDelivery.ts';
import { IdentitySchema } from './Identity.ts';
import { IdempotencyKeySchema, StockAdjustmentSchema } from './Inventory.ts';
import { NotificationSchema } from './Notification.ts';
import { OrderEventSchema, OrderLineSchema, OrderSchema } from './Order.ts';
import { ProductSchema } from './Product.ts';
import { ReportChunkSchema, ReportSchema } from './Report.ts';
import { SandboxPaymentSchema } from './SandboxPayment.ts';
import { SessionSchema } from './Session.ts';
import { ThrottleSchema } from './Throttle.ts';
import { UserSchema } from './User.ts';
import { WorkerHeartbeatSchema } from './WorkerHeartbeat.ts';

export { AnalyticsEvent, AnalyticsFunnelHourly, AnalyticsHourly } from './AnalyticsEvent.ts';
export { AppEvent, AppEventPruned } from './AppEvent.ts';
export { AuthToken, type AuthTokenKind, authTokenKinds } from './AuthToken.ts';
export { CartItem } from './CartItem.ts';
export {
  type ChatAuthorRole,
  ChatConversation,
  ChatMessage,
  type ChatStatus,
  chatAuthorRoles,
  chatStatuses,
} from './Chat.ts';
export { Device } from './Device.ts';
export { EmailDelivery } from './EmailDelivery.ts';
export { Identity } from './Identity.ts';
export {
  IdempotencyKey,
  StockAdjustment,
  type StockAdjustmentReason,
  stockAdjustmentReasons,
} from './Inventory.ts';
export { Notification, type NotificationKind, notificationKinds } from './Notification.ts';
export {
  Order,
  type OrderActor,
  OrderEvent,
  OrderLine,
  type OrderStatus,
  orderActors,
  orderStatuses,
} from './Order.ts';
export { Product } from './Product.ts';
export {
  Report,
  ReportChunk,
  type ReportKind,
  type ReportStatus,
  reportKinds,
  reportStatuses,
} from './Report.ts';
export { SandboxPayment } from './SandboxPayment.ts';
export { Session } from './Session.ts';
export { Throttle } from './Throttle.ts';
export { User, type UserRole, userRoles } from './User.ts';
export { WorkerHeartbeat } from './WorkerHeartbeat.ts';

/** Every entity, for the ORM's discovery; listing them beats folder globbing (no work at import time). */
export const entities = [
  ProductSchema,
  UserSchema,
  AnalyticsEventSchema,
  SessionSchema,
  AuthTokenSchema,
  ThrottleSchema,
  DeviceSchema,
  IdentitySchema,
  CartItemSchema,
  OrderSchema,
  OrderLineSchema,
  OrderEventSchema,
  StockAdjustmentSchema,
  IdempotencyKeySchema,
  SandboxPaymentSchema,
  EmailDeliverySchema,
  ReportSchema,
  ReportChunkSchema,
  AnalyticsHourlySchema,
  AnalyticsFunnelHourlySchema,
  WorkerHeartbeatSchema,
  AppEventSchema,
  AppEventPrunedSchema,
  NotificationSchema,
  ChatConversationSchema,
  ChatMessageSchema,
];
