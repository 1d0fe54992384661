import { defineEntity, p } from '@mikro-orm/core';

/**
 * One row per email a business event calls for, keyed by that event (`order:<id>:paid`, `job:<id>`),
 * so a retried or duplicated job never sends it twice. A sender claims the row for a short lease
 * before sending and stamps `sentAt` after; see `sendOnce` in `@keelson/email`.
 */
export const EmailDeliverySchema = defineEntity({
  name: 'EmailDelivery',
  tableName: 'email_delivery',
  properties: {
    key: p.string().length(255).primary(),
    /** The template: `verify_email`, `password_reset`, `order_paid`, ... */
    kind: p.string().length(64),
    /** The job that claimed it last. */
    jobId: p.string().length(32).nullable(),
    /** Claims so far (more than one means a retry). */
    attempts: p.integer().default(0),
    /** A sender owns the row until then; a crashed sender's claim lapses. */
    claimedUntil: p.datetime().nullable(),
    messageId: p.string().length(255).nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    sentAt: p.datetime().nullable(),
  },
});

export class EmailDelivery extends EmailDeliverySchema.class {}
EmailDeliverySchema.setClass(EmailDelivery);
