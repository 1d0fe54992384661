import { defineEntity, p } from '@mikro-orm/core';
import { uuidv7 } from '../ids.ts';
import { User } from './User.ts';

export const authTokenKinds = ['verify_email', 'reset_password'] as const;
export type AuthTokenKind = (typeof authTokenKinds)[number];

/** A single-use emailed token (verification, password reset), stored as its SHA-256 only. */
export const AuthTokenSchema = defineEntity({
  name: 'AuthToken',
  tableName: 'auth_token',
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => uuidv7()),
    kind: p.enum(authTokenKinds),
    tokenHash: p.string().length(64).unique(),
    user: () => p.manyToOne(User).deleteRule('cascade').index(),
    /** For email verification: the address being verified (a change of email verifies the new one). */
    email: p.string().length(320).nullable(),
    expiresAt: p.datetime(),
    usedAt: p.datetime().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});

export class AuthToken extends AuthTokenSchema.class {}
AuthTokenSchema.setClass(AuthToken);
