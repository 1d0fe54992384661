export {
  AnalyticsEvent,
  AuthToken,
  type AuthTokenKind,
  authTokenKinds,
  CartItem,
  entities,
  IdempotencyKey,
  Identity,
  Order,
  type OrderActor,
  OrderEvent,
  OrderLine,
  type OrderStatus,
  orderActors,
  orderStatuses,
  Product,
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
export {
  createListener,
  type Listener,
  type ListenerLogger,
  type ListenerNotification,
  type ListenerOptions,
} from './listener.ts';
export { migrate, type SchemaStatus, schemaStatus, WORKER_SCHEMA } from './migrate.ts';
export {
  createOrm,
  type EntityManager,
  type MikroORM,
  migrationsPath,
  type OrmOptions,
  ormOptions,
} from './orm.ts';
export { dumpSchema } from './schemaDump.ts';
export { demoProducts, needsAdmin, type SeedOptions, type SeedResult, seed } from './seed.ts';
