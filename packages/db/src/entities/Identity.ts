import { defineEntity, p } from '@mikro-orm/core';
import { uuidv7 } from '../ids.ts';
import { User } from './User.ts';

/** A sign-in identity at an OpenID Connect provider, linked to a user: (issuer, subject) is the key. */
export const IdentitySchema = defineEntity({
  name: 'Identity',
  tableName: 'auth_identity',
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => uuidv7()),
    user: () => p.manyToOne(User).deleteRule('cascade').index(),
    /** The provider's issuer URL. */
    issuer: p.string().length(512),
    /** The provider's stable user id (`sub`). */
    subject: p.string().length(255),
    /** The email the provider reported at the last sign-in (for support; never used to match). */
    email: p.string().length(320).nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
  uniques: [{ properties: ['issuer', 'subject'] }],
});

export class Identity extends IdentitySchema.class {}
IdentitySchema.setClass(Identity);
