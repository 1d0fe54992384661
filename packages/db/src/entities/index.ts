import { AnalyticsEventSchema } from './AnalyticsEvent.ts';
import { AuthTokenSchema } from './AuthToken.ts';
import { IdentitySchema } from './Identity.ts';
import { ProductSchema } from './Product.ts';
import { SessionSchema } from './Session.ts';
import { ThrottleSchema } from './Throttle.ts';
import { UserSchema } from './User.ts';

export { AnalyticsEvent } from './AnalyticsEvent.ts';
export { AuthToken, type AuthTokenKind, authTokenKinds } from './AuthToken.ts';
export { Identity } from './Identity.ts';
export { Product } from './Product.ts';
export { Session } from './Session.ts';
export { Throttle } from './Throttle.ts';
export { User, type UserRole, userRoles } from './User.ts';

/** Every entity, for the ORM's discovery; listing them beats folder globbing (no work at import time). */
export const entities = [
  ProductSchema,
  UserSchema,
  AnalyticsEventSchema,
  SessionSchema,
  AuthTokenSchema,
  ThrottleSchema,
  IdentitySchema,
];
