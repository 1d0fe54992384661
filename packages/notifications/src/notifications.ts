/**
 * The notifications inbox. `notify` files a notification in the caller's transaction and publishes it
 * on the realtime outbox (topic `notification`, for its recipient only) in that same transaction: a
 * notification exists, and is announced, exactly when the business event it tells of committed.
 *
 * Glossary: *event key* — the name of the business event (`order:<id>:paid`); one notification per key,
 * so a retried job, or a second code path reaching the same event, files nothing more.
 */
import { type Database, type NotificationKind, readSnapshot, rowDate, uuidv7 } from '@keelson/db';
import { AppError } from '@keelson/errors';
import { publishEvents } from '@keelson/realtime';
import type { EntityManager } from '@mikro-orm/postgresql';
import { type Kysely, sql } from 'kysely';
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

/** Typed SQL on the entities' tables, in `em`'s transaction when it has one. */
const kysely = (em: EntityManager) => em.getKysely<Database>();

const COLUMNS = ['id', 'kind', 'title', 'body', 'data', 'created_at', 'read_at'] as const;

/** A row of those columns; timestamps arrive as text from MikroORM's connection (see `rowDate`). */
interface NotificationRow {
  id: string;
  kind: string;
  title: string;
  body: string;
  data: unknown;
  created_at: string | Date;
  read_at: string | Date | null;
}

function toDto(em: EntityManager, r: NotificationRow): NotificationDto {
  return {
    id: r.id,
    kind: r.kind as NotificationKind,
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
  const row = await kysely(tx)
    .insertInto('notification')
    .values({
      id: uuidv7(),
      user_id: input.userId,
      kind: input.kind,
      title: input.title,
      body: input.body,
      data: sql`${JSON.stringify(input.data)}::jsonb`,
      event_key: input.eventKey,
      created_at: sql`now()`,
    })
    .onConflict((oc) => oc.column('event_key').doNothing())
    .returning(COLUMNS)
    .executeTakeFirst();
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
export function unreadCountQuery(db: Kysely<Database>, userId: string) {
  return db
    .selectFrom('notification')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('user_id', '=', userId)
    .where('read_at', 'is', null);
}

export async function unreadCount(em: EntityManager, userId: string): Promise<number> {
  const row = await unreadCountQuery(kysely(em), userId).executeTakeFirst();
  return Number(row?.n ?? 0);
}

/**
 * A page of the inbox, newest first, one row more than the page to know whether another follows (for
 * EXPLAIN tests too): an index range scan of `notification_user_id_idx`, or of the partial
 * `notification_unread_idx` for unread only, however deep the cursor.
 */
export function inboxQuery(
  db: Kysely<Database>,
  userId: string,
  input: { cursor?: string | undefined; limit: number; unreadOnly: boolean },
) {
  let query = db.selectFrom('notification').select(COLUMNS).where('user_id', '=', userId);
  if (input.unreadOnly) query = query.where('read_at', 'is', null);
  if (input.cursor) query = query.where('id', '<', input.cursor);
  return query.orderBy('id', 'desc').limit(input.limit + 1);
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
  return readSnapshot(em, async (tx) => {
    const rows = await inboxQuery(kysely(tx), userId, input).execute();
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
    const db = kysely(tx);
    let update = db
      .updateTable('notification')
      .set({ read_at: sql`now()` })
      .where('user_id', '=', userId)
      .where('read_at', 'is', null);
    if ('ids' in input) {
      const ids = [...new Set(input.ids.map((id) => id.toLowerCase()))];
      const owned = await db
        .selectFrom('notification')
        .select('id')
        .where('user_id', '=', userId)
        .where('id', 'in', ids)
        .execute();
      if (owned.length < ids.length) {
        const found = new Set(owned.map((r) => r.id));
        throw new AppError('NOTIFICATION_NOT_FOUND', { details: { ids: ids.filter((id) => !found.has(id)) } });
      }
      update = update.where('id', 'in', ids);
    }
    const marked = await update.returning('id').execute();
    return { marked: marked.length, unreadCount: await unreadCount(tx, userId) };
  });
}
