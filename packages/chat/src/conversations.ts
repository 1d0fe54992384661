/**
 * Support conversations: a customer and the staff (admins, who read as one team). Every change is
 * written with its realtime event (topic `chat`, addressed to the conversation's customer, so the hub
 * shows it to that customer and to admins only) in one transaction, so what subscribers see on any
 * replica, live or on resume, is exactly what committed, in commit order.
 *
 * Glossary: *side* — `customer` (the conversation's own customer) or `staff` (any admin, when not the
 * conversation's customer); *read marker* — per side, the newest message id that side has read.
 */
import { claim } from '@keelson/auth';
import { type ChatAuthorRole, type ChatStatus, type Database, rowDate, uuidv7 } from '@keelson/db';
import { AppError } from '@keelson/errors';
import { enqueue } from '@keelson/jobs';
import { publishEvents } from '@keelson/realtime';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import {
  type ChatMessageDto,
  type ConversationDto,
  type ConversationPage,
  type HistoryInput,
  type HistoryPage,
  historyInput,
  type InboxInput,
  inboxInput,
  listConversationsInput,
  type OpenConversationInput,
  type SendMessageInput,
} from './schemas.ts';

export interface ChatSettings {
  /** How long a staff reply stays unread before the customer is emailed (CHAT_EMAIL_AFTER_MS). */
  emailAfterMs: number;
  /** Messages one user may send a minute, across conversations (CHAT_SEND_PER_MINUTE). */
  sendPerMinute: number;
}

export const defaultChatSettings: ChatSettings = { emailAfterMs: 5 * 60_000, sendPerMinute: 30 };

/** Who is asking. */
export interface Viewer {
  userId: string;
  /** An admin: staff for every conversation that is not their own. */
  staff: boolean;
}

export type Side = ChatAuthorRole;

const PREVIEW = 140;

interface ConversationRow {
  id: string;
  subject: string;
  status: ChatStatus;
  order_id: string | null;
  customer_id: string;
  customer_name: string;
  customer_email: string;
  assignee_id: string | null;
  assignee_name: string | null;
  created_at: string | Date;
  last_message_at: string | Date;
  awaiting_staff_since: string | Date | null;
  customer_read_id: string | null;
  staff_read_id: string | null;
  unread: string | number;
  last_role: ChatAuthorRole | null;
  last_body: string | null;
  last_hidden: boolean | null;
  order_status: string | null;
  order_total_cents: number | string | null;
  order_currency: string | null;
}

interface MessageRow {
  id: string;
  conversation_id: string;
  author_role: ChatAuthorRole;
  author_name: string | null;
  body: string;
  created_at: string | Date;
  hidden_at: string | Date | null;
  hidden_by_name: string | null;
}

const kysely = (em: EntityManager) => em.getKysely<Database>();

/** The conversation's side for this viewer, or CONVERSATION_NOT_FOUND (unknown and not-yours alike). */
function sideOf(viewer: Viewer, customerId: string, conversationId: string): Side {
  if (customerId === viewer.userId) return 'customer';
  if (viewer.staff) return 'staff';
  throw new AppError('CONVERSATION_NOT_FOUND', { details: { id: conversationId } });
}

/** The viewer's side in a conversation, checked before anything is read or streamed. */
export async function conversationSide(em: EntityManager, viewer: Viewer, conversationId: string): Promise<Side> {
  const row = await kysely(em)
    .selectFrom('chat_conversation')
    .select('customer_id')
    .where('id', '=', conversationId)
    .executeTakeFirst();
  if (!row) throw new AppError('CONVERSATION_NOT_FOUND', { details: { id: conversationId } });
  return sideOf(viewer, row.customer_id, conversationId);
}

/** Locks the conversation for a change (messages of one conversation commit one after the other). */
async function lockConversation(tx: EntityManager, viewer: Viewer, conversationId: string) {
  const row = await kysely(tx)
    .selectFrom('chat_conversation')
    .select(['id', 'customer_id', 'status', 'assignee_id', 'customer_read_id', 'staff_read_id'])
    .where('id', '=', conversationId)
    .forUpdate()
    .executeTakeFirst();
  if (!row) throw new AppError('CONVERSATION_NOT_FOUND', { details: { id: conversationId } });
  return { row, side: sideOf(viewer, row.customer_id, conversationId) };
}

const conversationSelect = (side: Side) => sql`
  select c.id, c.subject, c.status, c.order_id, c.customer_id, cu.name as customer_name,
         cu.email as customer_email, c.assignee_id, a.name as assignee_name, c.created_at,
         c.last_message_at, c.awaiting_staff_since, c.customer_read_id, c.staff_read_id,
         (select count(*) from chat_message m
           where m.conversation_id = c.id and m.author_role = ${side === 'customer' ? 'staff' : 'customer'}
             and m.hidden_at is null
             and m.id > coalesce(${sql.ref(side === 'customer' ? 'c.customer_read_id' : 'c.staff_read_id')}, '00000000-0000-0000-0000-000000000000'::uuid)
         ) as unread,
         l.author_role as last_role, l.body as last_body, l.hidden_at is not null as last_hidden,
         o.status as order_status, o.total_cents as order_total_cents, o.currency as order_currency
  from chat_conversation c
  join app_user cu on cu.id = c.customer_id
  left join app_user a on a.id = c.assignee_id
  left join store_order o on o.id = c.order_id
  left join lateral (
    select author_role, body, hidden_at from chat_message m
    where m.conversation_id = c.id order by m.id desc limit 1
  ) l on true`;

function toConversation(em: EntityManager, r: ConversationRow, side: Side): ConversationDto {
  const hiddenForViewer = side === 'customer' && r.last_hidden === true;
  return {
    id: r.id,
    subject: r.subject,
    status: r.status,
    orderId: r.order_id,
    order:
      r.order_id && r.order_status !== null
        ? { status: r.order_status, totalCents: Number(r.order_total_cents), currency: r.order_currency ?? '' }
        : null,
    customer: { id: r.customer_id, name: r.customer_name },
    customerEmail: side === 'staff' ? r.customer_email : null,
    assignee: r.assignee_id ? { id: r.assignee_id, name: r.assignee_name ?? '' } : null,
    createdAt: rowDate(em, r.created_at),
    lastMessageAt: rowDate(em, r.last_message_at),
    awaitingStaffSince: r.awaiting_staff_since === null ? null : rowDate(em, r.awaiting_staff_since),
    unread: Number(r.unread),
    otherReadUpTo: side === 'customer' ? r.staff_read_id : r.customer_read_id,
    lastMessage: r.last_role
      ? {
          authorRole: r.last_role,
          preview: hiddenForViewer || r.last_body === null ? null : r.last_body.slice(0, PREVIEW),
        }
      : null,
  };
}

/** Staff are shown by first name to customers (a support desk's habit; the full name stays internal). */
const shownName = (role: ChatAuthorRole, name: string | null, viewerSide: Side) =>
  name === null
    ? role === 'staff'
      ? 'Support'
      : 'Customer'
    : role === 'staff' && viewerSide === 'customer'
      ? (name.split(/\s+/)[0] ?? name)
      : name;

function toMessage(em: EntityManager, r: MessageRow, side: Side): ChatMessageDto {
  const hidden = r.hidden_at !== null;
  return {
    id: r.id,
    conversationId: r.conversation_id,
    authorRole: r.author_role,
    authorName: shownName(r.author_role, r.author_name, side),
    body: hidden && side === 'customer' ? null : r.body,
    hidden,
    hiddenBy: side === 'staff' ? r.hidden_by_name : null,
    hiddenAt: side === 'staff' && r.hidden_at !== null ? rowDate(em, r.hidden_at) : null,
    createdAt: rowDate(em, r.created_at),
  };
}

/** One conversation as the viewer sees it. */
export async function getConversation(
  em: EntityManager,
  viewer: Viewer,
  conversationId: string,
): Promise<ConversationDto> {
  const side = await conversationSide(em, viewer, conversationId);
  const { rows } = await sql<ConversationRow>`${conversationSelect(side)} where c.id = ${conversationId}`.execute(
    kysely(em),
  );
  const row = rows[0];
  if (!row) throw new AppError('CONVERSATION_NOT_FOUND', { details: { id: conversationId } });
  return toConversation(em, row, side);
}

/** The caller's own conversations (as a customer), newest first, keyset on the UUIDv7 id. */
export async function listOwnConversations(
  em: EntityManager,
  userId: string,
  raw: { cursor?: string | undefined; limit?: number | undefined },
): Promise<ConversationPage> {
  const input = listConversationsInput.parse(raw);
  const { rows } = await sql<ConversationRow>`${conversationSelect('customer')}
    where c.customer_id = ${userId} ${input.cursor ? sql`and c.id < ${input.cursor}` : sql``}
    order by c.id desc limit ${input.limit + 1}`.execute(kysely(em));
  const items = rows.slice(0, input.limit).map((r) => toConversation(em, r, 'customer'));
  return { items, nextCursor: rows.length > input.limit ? (items.at(-1)?.id ?? null) : null };
}

/** Staff: the inbox of conversations by status (open by default), optionally only the caller's. */
export async function staffInbox(em: EntityManager, staffId: string, raw: InboxInput): Promise<ConversationPage> {
  const input = inboxInput.parse(raw);
  const { rows } = await sql<ConversationRow>`${conversationSelect('staff')}
    where c.status = ${input.status}
      ${input.mine ? sql`and c.assignee_id = ${staffId}` : sql``}
      ${input.cursor ? sql`and c.id < ${input.cursor}` : sql``}
    order by c.id desc limit ${input.limit + 1}`.execute(kysely(em));
  const items = rows.slice(0, input.limit).map((r) => toConversation(em, r, 'staff'));
  return { items, nextCursor: rows.length > input.limit ? (items.at(-1)?.id ?? null) : null };
}

async function readMessage(tx: EntityManager, id: string, side: Side): Promise<ChatMessageDto> {
  const { rows } = await sql<MessageRow>`
    select m.id, m.conversation_id, m.author_role, u.name as author_name, m.body, m.created_at,
           m.hidden_at, h.name as hidden_by_name
    from chat_message m left join app_user u on u.id = m.author_id left join app_user h on h.id = m.hidden_by_id
    where m.id = ${id}`.execute(kysely(tx));
  const row = rows[0];
  if (!row) throw new AppError('CHAT_MESSAGE_NOT_FOUND', { details: { id } });
  return toMessage(tx, row, side);
}

/** A page of history: the newest `limit` messages before `cursor`, returned oldest first. */
export async function history(em: EntityManager, viewer: Viewer, raw: HistoryInput): Promise<HistoryPage> {
  const input = historyInput.parse(raw);
  const side = await conversationSide(em, viewer, input.conversationId);
  const { rows } = await sql<MessageRow>`
    select m.id, m.conversation_id, m.author_role, u.name as author_name, m.body, m.created_at,
           m.hidden_at, h.name as hidden_by_name
    from chat_message m left join app_user u on u.id = m.author_id left join app_user h on h.id = m.hidden_by_id
    where m.conversation_id = ${input.conversationId} ${input.cursor ? sql`and m.id < ${input.cursor}` : sql``}
    order by m.id desc limit ${input.limit + 1}`.execute(kysely(em));
  const page = rows.slice(0, input.limit);
  return {
    items: page.reverse().map((r) => toMessage(em, r, side)),
    nextCursor: rows.length > input.limit ? (page[0]?.id ?? null) : null,
  };
}

/** The message as it travels in the log: the author's name as the customer sees it (staff read it in history). */
function messageEvent(conversationId: string, customerId: string, message: ChatMessageDto) {
  return {
    topic: 'chat' as const,
    userId: customerId,
    payload: { kind: 'message', conversationId, message, at: message.createdAt },
  };
}

export interface SendHooks {
  /** Counted once per new message (not for a retried clientKey). */
  onSent?: (role: Side) => void;
}

/**
 * A new message, by the conversation's customer or by staff, with its event; a message to a closed
 * conversation reopens it. A staff reply takes an unassigned conversation and schedules the unread
 * email (one per burst, see `chat__email_unread`). Charged to the sender's per-minute limit first.
 */
export async function sendMessage(
  em: EntityManager,
  opts: { viewer: Viewer; input: SendMessageInput; settings: ChatSettings; hooks?: SendHooks },
): Promise<ChatMessageDto> {
  const { viewer, hooks = {} } = opts;
  await claimSend(em, viewer.userId, opts.settings);
  const { message, created } = await em.transactional((tx) => writeMessage(tx, opts));
  if (created) hooks.onSent?.(created);
  return message;
}

const RAND_B = (1n << 62n) - 1n;

/**
 * A UUIDv7 above `after`, the conversation's newest message: under the conversation's row lock, so a
 * conversation's ids follow its commit order, which is the order its events are delivered in. Two
 * processes writing within one millisecond would otherwise order by their random bits.
 */
export function idAfter(after: string | null): string {
  const id = uuidv7();
  if (after === null || id > after) return id;
  const value = BigInt(`0x${after.replaceAll('-', '')}`);
  // The next value in the last 62 (random) bits; version and variant stay as they are.
  const low = ((value & RAND_B) + 1n) & RAND_B;
  if (low === 0n) throw new Error(`no UUIDv7 follows ${after} within its millisecond`);
  const hex = ((value & ~RAND_B) | low).toString(16).padStart(32, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Charges a message to the sender's per-minute budget (its own transaction: a refusal changes nothing). */
function claimSend(em: EntityManager, userId: string, settings: ChatSettings): Promise<void> {
  return claim(em, {
    rule: { bucket: 'chat:send:user', max: settings.sendPerMinute, windowMs: 60_000 },
    key: userId,
    now: new Date(),
  });
}

/** The message, its conversation's update, the unread-email job and the events, in the caller's transaction. */
async function writeMessage(
  tx: EntityManager,
  opts: { viewer: Viewer; input: SendMessageInput; settings: ChatSettings },
): Promise<{ message: ChatMessageDto; created: Side | null }> {
  const { viewer, input, settings } = opts;
  const { row, side } = await lockConversation(tx, viewer, input.conversationId);
  const db = kysely(tx);
  if (input.clientKey) {
    // After the lock: a concurrent retry with the same key has committed by now, and is seen.
    const existing = await db
      .selectFrom('chat_message')
      .select('id')
      .where('conversation_id', '=', input.conversationId)
      .where('client_key', '=', input.clientKey)
      .executeTakeFirst();
    if (existing) return { message: await readMessage(tx, existing.id, side), created: null };
  }
  const last = await db
    .selectFrom('chat_message')
    .select('id')
    .where('conversation_id', '=', input.conversationId)
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  const id = idAfter(last?.id ?? null);
  const now = new Date();
  await db
    .insertInto('chat_message')
    .values({
      id,
      conversation_id: input.conversationId,
      author_id: viewer.userId,
      author_role: side,
      body: input.body,
      client_key: input.clientKey ?? null,
      created_at: now,
    })
    .execute();
  const takes = side === 'staff' && row.assignee_id === null;
  const reopens = row.status === 'closed';
  await db
    .updateTable('chat_conversation')
    .set({
      last_message_at: now,
      status: 'open',
      ...(side === 'customer'
        ? { customer_read_id: id, awaiting_staff_since: sql<Date>`coalesce(awaiting_staff_since, ${now})` }
        : { staff_read_id: id, awaiting_staff_since: null }),
      ...(takes ? { assignee_id: viewer.userId } : {}),
    })
    .where('id', '=', input.conversationId)
    .execute();
  if (side === 'staff') {
    await enqueue(
      tx,
      'chat__email_unread',
      { conversationId: input.conversationId },
      { runAt: new Date(now.getTime() + settings.emailAfterMs) },
    );
  }
  const message = await readMessage(tx, id, 'customer');
  await publishEvents(tx, [
    ...(takes || reopens
      ? [
          conversationEvent({
            conversationId: input.conversationId,
            customerId: row.customer_id,
            status: 'open',
            assigneeId: takes ? viewer.userId : row.assignee_id,
            at: now,
          }),
        ]
      : []),
    messageEvent(input.conversationId, row.customer_id, message),
    readEvent({ conversationId: input.conversationId, customerId: row.customer_id, side, upTo: id, at: now }),
  ]);
  return { message: side === 'staff' ? await readMessage(tx, id, 'staff') : message, created: side };
}

interface ConversationChange {
  conversationId: string;
  customerId: string;
  status: ChatStatus;
  assigneeId: string | null;
  at: Date;
}

function conversationEvent({ conversationId, customerId, status, assigneeId, at }: ConversationChange) {
  return {
    topic: 'chat' as const,
    userId: customerId,
    payload: { kind: 'conversation', conversationId, status, assigneeId, at },
  };
}

interface ReadChange {
  conversationId: string;
  customerId: string;
  side: Side;
  upTo: string;
  at: Date;
}

function readEvent({ conversationId, customerId, side, upTo, at }: ReadChange) {
  return { topic: 'chat' as const, userId: customerId, payload: { kind: 'read', conversationId, side, upTo, at } };
}

/** A customer opens a conversation, optionally about one of their orders, with its first message. */
export async function openConversation(
  em: EntityManager,
  opts: { customerId: string; input: OpenConversationInput; settings: ChatSettings; hooks?: SendHooks },
): Promise<ConversationDto> {
  const { customerId, input, settings, hooks } = opts;
  if (input.orderId) {
    const order = await kysely(em)
      .selectFrom('store_order')
      .select('user_id')
      .where('id', '=', input.orderId)
      .executeTakeFirst();
    if (order?.user_id !== customerId) throw new AppError('ORDER_NOT_FOUND', { details: { id: input.orderId } });
  }
  const viewer = { userId: customerId, staff: false };
  await claimSend(em, customerId, settings);
  const id = uuidv7();
  const now = new Date();
  // The conversation and its first message together: a refused or failed first message leaves nothing.
  const { created } = await em.transactional(async (tx) => {
    await kysely(tx)
      .insertInto('chat_conversation')
      .values({
        id,
        customer_id: customerId,
        order_id: input.orderId ?? null,
        subject: input.subject ?? (input.orderId ? `Order ${input.orderId.slice(-8).toUpperCase()}` : 'Question'),
        status: 'open',
        created_at: now,
        last_message_at: now,
      })
      .execute();
    return writeMessage(tx, { viewer, input: { conversationId: id, body: input.body }, settings });
  });
  if (created) hooks?.onSent?.(created);
  return getConversation(em, viewer, id);
}

/** Moves the viewer's read marker forward to `upTo` (a message of this conversation); never back. */
export async function markRead(
  em: EntityManager,
  viewer: Viewer,
  input: { conversationId: string; upTo: string },
): Promise<{ unread: number }> {
  return em.transactional(async (tx) => {
    const { row, side } = await lockConversation(tx, viewer, input.conversationId);
    const db = kysely(tx);
    const message = await db
      .selectFrom('chat_message')
      .select('id')
      .where('id', '=', input.upTo)
      .where('conversation_id', '=', input.conversationId)
      .executeTakeFirst();
    if (!message) throw new AppError('CHAT_MESSAGE_NOT_FOUND', { details: { id: input.upTo } });
    const current = side === 'customer' ? row.customer_read_id : row.staff_read_id;
    if (current === null || current < input.upTo) {
      await db
        .updateTable('chat_conversation')
        .set(side === 'customer' ? { customer_read_id: input.upTo } : { staff_read_id: input.upTo })
        .where('id', '=', input.conversationId)
        .execute();
      await publishEvents(tx, [
        readEvent({
          conversationId: input.conversationId,
          customerId: row.customer_id,
          side,
          upTo: input.upTo,
          at: new Date(),
        }),
      ]);
    }
    const marker = current !== null && current > input.upTo ? current : input.upTo;
    const unread = await db
      .selectFrom('chat_message')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('conversation_id', '=', input.conversationId)
      .where('author_role', '=', side === 'customer' ? 'staff' : 'customer')
      .where('hidden_at', 'is', null)
      .where('id', '>', marker)
      .executeTakeFirstOrThrow();
    return { unread: Number(unread.n) };
  });
}

/** Closes or reopens: the customer their own, staff any. Closing stops the "unanswered" clock. */
export async function setStatus(
  em: EntityManager,
  viewer: Viewer,
  input: { conversationId: string; status: ChatStatus },
): Promise<ConversationDto> {
  await em.transactional(async (tx) => {
    const { row } = await lockConversation(tx, viewer, input.conversationId);
    if (row.status === input.status) return;
    await kysely(tx)
      .updateTable('chat_conversation')
      .set({ status: input.status, ...(input.status === 'closed' ? { awaiting_staff_since: null } : {}) })
      .where('id', '=', input.conversationId)
      .execute();
    await publishEvents(tx, [
      conversationEvent({
        conversationId: input.conversationId,
        customerId: row.customer_id,
        status: input.status,
        assigneeId: row.assignee_id,
        at: new Date(),
      }),
    ]);
  });
  return getConversation(em, viewer, input.conversationId);
}

/** Staff: takes the conversation, or leaves it unassigned. */
export async function assign(
  em: EntityManager,
  staffId: string,
  input: { conversationId: string; toMe: boolean },
): Promise<ConversationDto> {
  const viewer = { userId: staffId, staff: true };
  await em.transactional(async (tx) => {
    const { row } = await lockConversation(tx, viewer, input.conversationId);
    const assigneeId = input.toMe ? staffId : null;
    if (row.assignee_id === assigneeId) return;
    await kysely(tx)
      .updateTable('chat_conversation')
      .set({ assignee_id: assigneeId })
      .where('id', '=', input.conversationId)
      .execute();
    await publishEvents(tx, [
      conversationEvent({
        conversationId: input.conversationId,
        customerId: row.customer_id,
        status: row.status,
        assigneeId,
        at: new Date(),
      }),
    ]);
  });
  return getConversation(em, viewer, input.conversationId);
}

/**
 * Staff: hides a message from the customer, recording who and when. Its text is also scrubbed from
 * the realtime log, so a customer resuming from before it never receives it again.
 */
export async function hideMessage(em: EntityManager, staffId: string, messageId: string): Promise<ChatMessageDto> {
  return em.transactional(async (tx) => {
    const db = kysely(tx);
    const found = await db
      .selectFrom('chat_message')
      .select(['conversation_id'])
      .where('id', '=', messageId)
      .executeTakeFirst();
    if (!found) throw new AppError('CHAT_MESSAGE_NOT_FOUND', { details: { id: messageId } });
    const { row } = await lockConversation(tx, { userId: staffId, staff: true }, found.conversation_id);
    const now = new Date();
    const hidden = await db
      .updateTable('chat_message')
      .set({ hidden_at: now, hidden_by_id: staffId })
      .where('id', '=', messageId)
      .where('hidden_at', 'is', null)
      .returning('id')
      .executeTakeFirst();
    if (hidden) {
      await sql`
        update app_event
        set payload = jsonb_set(jsonb_set(payload, '{message,body}', 'null'::jsonb), '{message,hidden}', 'true'::jsonb)
        where topic = 'chat' and user_id = ${row.customer_id}
          and payload ->> 'kind' = 'message' and payload -> 'message' ->> 'id' = ${messageId}`.execute(db);
      await publishEvents(tx, [
        {
          topic: 'chat',
          userId: row.customer_id,
          payload: { kind: 'hidden', conversationId: found.conversation_id, messageId, at: now },
        },
      ]);
    }
    return readMessage(tx, messageId, 'staff');
  });
}

/** Open conversations and how long the oldest unanswered one has waited (for the metrics). */
export async function chatGauges(em: EntityManager): Promise<{ open: number; oldestUnansweredSeconds: number }> {
  const { rows } = await sql<{ open: string; oldest: string | null }>`
    select (select count(*) from chat_conversation where status = 'open') as open,
           (select extract(epoch from now() - min(awaiting_staff_since)) from chat_conversation
             where awaiting_staff_since is not null and status = 'open') as oldest`.execute(kysely(em));
  return { open: Number(rows[0]?.open ?? 0), oldestUnansweredSeconds: Math.max(0, Number(rows[0]?.oldest ?? 0)) };
}
