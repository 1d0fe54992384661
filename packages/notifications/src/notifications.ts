/**
 * The notifications inbox. `notify` files a notification in the caller's transaction and publishes it
 * on the realtime outbox (topic `notification`, for its recipient only) in that same transaction: a
 * notification exists, and is announced, exactly when the business event it tells of committed.
 *
 * Glossary: *event key* — the name of the business event (`order:<id>:paid`); one notification per key,
 * so a retried job, or a second code path reaching the same event, files nothing more.
 */
import { type NotificationKind, readSnapshot, rowDate, uuidv7 } from '@keelson/db';
import { AppError } from '@keelson/errors';
import { publishEvents } from '@keelson/realtime';
import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import {
  type ListNotificationsInput,
  listNotificationsInput,
  type MarkReadInput,
  type MarkReadResult,
  type NotificationDto,
  type NotificationPage,
  notificationDto,
} from './schemas.ts';

export interface NotifyInput {
  userId: string;
  kind: NotificationKind;
  title: string;
  body: string;
  data: Record<string, unknown>;
  eventKey: string;
}

interface NotificationRow {
  id: string;
  kind: NotificationKind;
  title: string;
  body: string;
  data: unknown;
  created_at: string | Date;
  read_at: string | Date | null;
}

const COLUMNS = 'id, kind, title, body, data, created_at, read_at';

function toDto(em: EntityManager, r: NotificationRow): NotificationDto {
  return {
    id: r.id,
    kind: r.kind,
    title: r.title,
    body: r.body,
    data: (typeof r.data === 'string' ? JSON.parse(r.data) : r.data) as Record<string, unknown>,
    createdAt: rowDate(em, r.created_at),
    readAt: r.read_at === null ? null : rowDate(em, r.read_at),
  };
}

/**
 * Files a notification and publishes it, in the caller's transaction (the one of the business event).
 * Returns it, or null when its event key was already filed. Publishes last-ish: the outbox holds its
 * ordering until commit, so call it at the end of the transaction's work.
 */
export async function notify(tx: EntityManager, input: NotifyInput): Promise<NotificationDto | null> {
  if (!tx.isInTransaction()) throw new Error('notify() must run inside a transaction');
  const [row] = await tx.getConnection().execute<NotificationRow[]>(
    `insert into notification (id, user_id, kind, title, body, data, event_key, created_at)
     values (?, ?, ?, ?, ?, ?::jsonb, ?, now())
     on conflict (event_key) do nothing
     returning ${COLUMNS}`,
    [uuidv7(), input.userId, input.kind, input.title, input.body, JSON.stringify(input.data), input.eventKey],
    'all',
    tx.getTransactionContext(),
  );
  if (!row) return null;
  const notification = toDto(tx, row);
  await publishEvents(tx, [{ topic: 'notification', userId: input.userId, payload: notification }]);
  return notification;
}

/** A notification as the outbox carries it (dates as JSON strings). */
/** An outbox event's payload as a notification: its dates travel as JSON strings. */
export const notificationEvent = notificationDto.extend({
  createdAt: z.coerce.date(),
  readAt: z.coerce.date().nullable(),
});

/** The unread count's query (for EXPLAIN tests): served by the partial `notification_unread_idx`. */
export function unreadCountQuery(userId: string): { sql: string; params: unknown[] } {
  return { sql: 'select count(*) as n from notification where user_id = ? and read_at is null', params: [userId] };
}

export async function unreadCount(em: EntityManager, userId: string): Promise<number> {
  const { sql, params } = unreadCountQuery(userId);
  const [row] = await em.getConnection().execute<{ n: string }[]>(sql, params, 'all', em.getTransactionContext());
  return Number(row?.n ?? 0);
}

/**
 * A page of the inbox, newest first, one row more than the page to know whether another follows (for
 * EXPLAIN tests too): an index range scan of `notification_user_id_idx`, or of the partial
 * `notification_unread_idx` for unread only, however deep the cursor.
 */
export function inboxQuery(
  userId: string,
  input: { cursor?: string | undefined; limit: number; unreadOnly: boolean },
): { sql: string; params: unknown[] } {
  const where = ['user_id = ?'];
  const params: unknown[] = [userId];
  if (input.unreadOnly) where.push('read_at is null');
  if (input.cursor) {
    where.push('id < ?');
    params.push(input.cursor);
  }
  params.push(input.limit + 1);
  return {
    sql: `select ${COLUMNS} from notification where ${where.join(' and ')} order by id desc limit ?`,
    params,
  };
}

/**
 * The user's notifications, newest first (keyset on the UUIDv7 id), with their unread count. Page and
 * count from one snapshot: a notification filed or read between the two reads made them disagree.
 */
export async function listNotifications(
  em: EntityManager,
  userId: string,
  raw: ListNotificationsInput,
): Promise<NotificationPage> {
  const input = listNotificationsInput.parse(raw);
  const { sql, params } = inboxQuery(userId, input);
  return readSnapshot(em, async (tx) => {
    const rows = await tx.getConnection().execute<NotificationRow[]>(sql, params, 'all', tx.getTransactionContext());
    const items = rows.slice(0, input.limit).map((r) => toDto(tx, r));
    return {
      items,
      nextCursor: rows.length > input.limit ? (items.at(-1)?.id ?? null) : null,
      unreadCount: await unreadCount(tx, userId),
    };
  });
}

/**
 * Marks the user's notifications read: the given ids, or all. Idempotent: already read ones keep their
 * `readAt`. Any id that is not one of the user's (unknown, or someone else's: the same answer, so
 * nothing leaks) fails the whole call with NOTIFICATION_NOT_FOUND, and nothing is marked.
 */
export async function markRead(em: EntityManager, userId: string, input: MarkReadInput): Promise<MarkReadResult> {
  return em.transactional(async (tx) => {
    const conn = tx.getConnection();
    const ctx = tx.getTransactionContext();
    let scope = '';
    const params: unknown[] = [userId];
    if ('ids' in input) {
      const ids = [...new Set(input.ids.map((id) => id.toLowerCase()))];
      const owned = await conn.execute<{ id: string }[]>(
        `select id from notification
         where user_id = ? and id in (select (jsonb_array_elements_text(?::jsonb))::uuid)`,
        [userId, JSON.stringify(ids)],
        'all',
        ctx,
      );
      if (owned.length < ids.length) {
        const found = new Set(owned.map((r) => r.id));
        throw new AppError('NOTIFICATION_NOT_FOUND', { details: { ids: ids.filter((id) => !found.has(id)) } });
      }
      scope = ' and id in (select (jsonb_array_elements_text(?::jsonb))::uuid)';
      params.push(JSON.stringify(ids));
    }
    const marked = await conn.execute<{ id: string }[]>(
      `update notification set read_at = now() where user_id = ? and read_at is null${scope} returning id`,
      params,
      'all',
      ctx,
    );
    return { marked: marked.length, unreadCount: await unreadCount(tx, userId) };
  });
}
