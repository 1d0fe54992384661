/** Inputs and outputs of the inbox procedures, shared by the domain functions and the router. */
import { notificationKinds } from '@keelson/db';
import { z } from 'zod';

export const notificationDto = z.object({
  id: z.uuid(),
  kind: z.enum(notificationKinds),
  title: z.string(),
  body: z.string(),
  /** Ids the client links to: `orderId` for order notifications, `reportId` for reports. */
  data: z.record(z.string(), z.unknown()),
  createdAt: z.date(),
  /** Null while unread. */
  readAt: z.date().nullable(),
});
export type NotificationDto = z.infer<typeof notificationDto>;

export const listNotificationsInput = z.object({
  /** The last id of the previous page. */
  cursor: z.uuid().optional(),
  /** Default 20. */
  limit: z.number().int().min(1).max(100).default(20),
  /** Only unread ones. Default false. */
  unreadOnly: z.boolean().default(false),
});
export type ListNotificationsInput = z.input<typeof listNotificationsInput>;

export const notificationPage = z.object({
  items: z.array(notificationDto),
  nextCursor: z.uuid().nullable(),
  /** All the caller's unread notifications, not just this page's. */
  unreadCount: z.number().int().min(0),
});
export type NotificationPage = z.infer<typeof notificationPage>;

/** Up to 100 ids of one's own, or everything. */
export const markReadInput = z.union([
  z.object({ ids: z.array(z.uuid()).min(1).max(100) }),
  z.object({ all: z.literal(true) }),
]);
export type MarkReadInput = z.infer<typeof markReadInput>;

export const markReadResult = z.object({
  /** Notifications that were unread and now are read (already read ones keep their `readAt`). */
  marked: z.number().int().min(0),
  unreadCount: z.number().int().min(0),
});
export type MarkReadResult = z.infer<typeof markReadResult>;
