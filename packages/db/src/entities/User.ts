import { defineEntity, p } from '@mikro-orm/core';
import { uuidv7 } from '../ids.ts';

export const userRoles = ['customer', 'admin'] as const;
export type UserRole = (typeof userRoles)[number];

export const UserSchema = defineEntity({
  name: 'User',
  tableName: 'app_user',
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => uuidv7()),
    /** Stored lower-cased, so the unique constraint is case-insensitive. */
    email: p.string().length(320).unique(),
    name: p.string().length(200),
    role: p.enum(userRoles).default('customer'),
    /** argon2id PHC string; never serialised. Null for accounts that only sign in through OIDC. */
    passwordHash: p.text().nullable().hidden().lazy(),
    emailVerifiedAt: p.datetime().nullable(),
    /** Set while an admin has disabled the account: no log-in, no session. */
    disabledAt: p.datetime().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
});

export class User extends UserSchema.class {}
UserSchema.setClass(User);
