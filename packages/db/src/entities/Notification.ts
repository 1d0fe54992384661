import { defineEntity, p } from '@mikro-orm/core';
import { uuidv7 } from '../ids.ts';
import { User } from './User.ts';

/** What a notification is about; each comes from one business event (see `@keelson/notifications`). */
export const notificationKinds = [
  'order_paid',
  'order_shipped',
  'payment_failed',
  'report_ready',
  'chat_reply',
] as const;
export type NotificationKind = (typeof notificationKinds)[number];

/**
 * A user's inbox entry, written in the transaction of the business event it tells of, together with
 * its realtime event. `eventKey` names that event (`order:<id>:paid`), so a retried or duplicated job
 * cannot file it twice. Newest first is primary-key order (UUIDv7).
 */
export const NotificationSchema = defineEntity({
  name: 'Notification',
  tableName: 'notification',
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => uuidv7()),
    user: () => p.manyToOne(User).deleteRule('cascade'),
    kind: p.enum(notificationKinds),
    title: p.string().length(200),
    body: p.string().length(1000),
    /** Ids the client links to (`orderId`, `reportId`). */
    data: p.json<Record<string, unknown>>(),
    eventKey: p.string().length(255).unique(),
    createdAt: p.datetime().onCreate(() => new Date()),
    readAt: p.datetime().nullable(),
  },
  indexes: [
    // The inbox, newest first (keyset on the UUIDv7 id).
    { name: 'notification_user_id_idx', properties: ['user', 'id'] },
    // Unread count and the unread-only inbox: small, since most notifications get read.
    {
      name: 'notification_unread_idx',
      expression: 'create index "notification_unread_idx" on "notification" ("user_id", "id") where "read_at" is null',
    },
  ],
});

export class Notification extends NotificationSchema.class {}
NotificationSchema.setClass(Notification);
