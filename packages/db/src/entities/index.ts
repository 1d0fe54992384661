import { AnalyticsEventSchema } from './AnalyticsEvent.ts';
import { ProductSchema } from './Product.ts';
import { UserSchema } from './User.ts';

export { AnalyticsEvent } from './AnalyticsEvent.ts';
export { Product } from './Product.ts';
export { User, type UserRole, userRoles } from './User.ts';

/** Every entity, for the ORM's discovery; listing them beats folder globbing (no work at import time). */
export const entities = [ProductSchema, UserSchema, AnalyticsEventSchema];
