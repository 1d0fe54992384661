import { defineEntity, p } from '@mikro-orm/core';
import { uuidv7 } from '../ids.ts';
import { User } from './User.ts';

/**
 * A browser or app that logged in to an account before (OWASP's "device cookie"): its log-in attempts
 * for that account are throttled per device instead of per account, so a stranger guessing the password
 * elsewhere cannot lock the owner out. The client holds a random token; only its SHA-256 is stored.
 */
export const DeviceSchema = defineEntity({
  name: 'Device',
  tableName: 'auth_device',
  properties: {
    /** Public handle, and the device's throttle key (never the token). */
    id: p
      .uuid()
      .primary()
      .onCreate(() => uuidv7()),
    tokenHash: p.string().length(64).unique(),
    user: () => p.manyToOne(User).deleteRule('cascade').index(),
    createdAt: p.datetime().onCreate(() => new Date()),
    expiresAt: p.datetime(),
  },
});

export class Device extends DeviceSchema.class {}
DeviceSchema.setClass(Device);
