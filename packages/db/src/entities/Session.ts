import { defineEntity, p } from '@mikro-orm/core';
import { uuidv7 } from '../ids.ts';
import { User } from './User.ts';

/**
 * A sign-in session. The token the client holds is never stored: `tokenHash` is its SHA-256, so a
 * copy of this table lets nobody in. `id` is a separate public handle for listing and revoking.
 */
export const SessionSchema = defineEntity({
  name: 'Session',
  tableName: 'auth_session',
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => uuidv7()),
    tokenHash: p.string().length(64).unique(),
    user: () => p.manyToOne(User).deleteRule('cascade').index(),
    /** Idle expiry: pushed forward while the session is used. */
    expiresAt: p.datetime(),
    /** Absolute expiry: never moves. */
    absoluteExpiresAt: p.datetime(),
    createdAt: p.datetime().onCreate(() => new Date()),
    lastUsedAt: p.datetime().onCreate(() => new Date()),
    userAgent: p.string().length(512).nullable(),
    ip: p.string().length(64).nullable(),
  },
});

export class Session extends SessionSchema.class {}
SessionSchema.setClass(Session);
