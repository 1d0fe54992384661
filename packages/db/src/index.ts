export { compiledOnce } from './compiledOnce.ts';
export { isDatabaseUnavailable } from './connectionLoss.ts';
export {
  AnalyticsEvent,
  AnalyticsFunnelHourly,
  AnalyticsHourly,
  AppEvent,
  AppEventPruned,
  AuthToken,
  type AuthTokenKind,
  authTokenKinds,
  CartItem,
  type ChatAuthorRole,
  ChatConversation,
  ChatMessage,
  type ChatStatus,
  chatAuthorRoles,
  chatStatuses,
  Device,
  EmailDelivery,
  entities,
  IdempotencyKey,
  Identity,
  Notification,
  type NotificationKind,
  notificationKinds,
  Order,
  type OrderActor,
  OrderEvent,
  OrderLine,
  type OrderStatus,
  orderActors,
  orderStatuses,
  Product,
  Report,
  ReportChunk,
  type ReportKind,
  type ReportStatus,
  reportKinds,
  reportStatuses,
  SandboxPayment,
  Session,
  StockAdjustment,
  type StockAdjustmentReason,
  stockAdjustmentReasons,
  Throttle,
  User,
  type UserRole,
  userRoles,
  WorkerHeartbeat,
} from './entities/index.ts';
export { uuidv7 } from './ids.ts';
export { migrate, type SchemaStatus, schemaStatus, WORKER_SCHEMA } from './migrate.ts';
export {
  createOrm,
  type Database,
  type EntityManager,
  type MikroORM,
  migrationsPath,
  type OrmOptions,
  ormOptions,
} from './orm.ts';
export { createPgPool, type PgPoolOptions, pgPoolConfig, poolSettled } from './pool.ts';
export { type Readiness, type ReadinessOptions, type ReadinessProbe, readinessProbe } from './readiness.ts';
export { rowDate } from './rows.ts';
export { dumpSchema } from './schemaDump.ts';
export { demoProducts, needsAdmin, type SeedOptions, type SeedResult, seed } from './seed.ts';
export { readSnapshot } from './snapshot.ts';
export { multiLineText, singleLineText, storableText, type TextRule, unstorableText } from './text.ts';
