/**
 * The unread-reply email. Every staff reply enqueues `chat__email_unread` for its conversation,
 * CHAT_EMAIL_AFTER_MS later, under one job key that keeps the first run time: a burst of replies is
 * one job. When it runs, the *burst* is the staff messages the customer has not read; it is named by
 * its first message, and the email and the inbox notification are keyed by that name, so retries
 * and duplicate jobs send one email per burst. Read before the delay: nothing is sent. A burst that
 * started after the job was scheduled (the customer read the earlier one) is looked at again when
 * its own delay is over.
 */
import type { Database } from '@keelson/db';
import { rowDate } from '@keelson/db';
import type { EntityManager } from '@mikro-orm/postgresql';

export interface UnreadBurst {
  conversationId: string;
  /** The first unread staff message: the burst's name. */
  firstMessageId: string;
  messages: number;
  subject: string;
  orderId: string | null;
  customer: { id: string; email: string; name: string; disabled: boolean };
  /** The last message's text, for the email's quote. */
  lastBody: string;
}

export type UnreadVerdict =
  | { kind: 'none' }
  | { kind: 'later'; runAt: Date }
  | { kind: 'send'; burst: UnreadBurst; key: string };

/** What the job should do now for this conversation. */
export async function unreadBurst(
  em: EntityManager,
  opts: { conversationId: string; emailAfterMs: number; now?: Date },
): Promise<UnreadVerdict> {
  const { conversationId, emailAfterMs, now = new Date() } = opts;
  const db = em.getKysely<Database>();
  const conversation = await db
    .selectFrom('chat_conversation as c')
    .innerJoin('app_user as u', 'u.id', 'c.customer_id')
    .select([
      'c.id',
      'c.subject',
      'c.order_id',
      'c.customer_read_id',
      'u.id as user_id',
      'u.email',
      'u.name',
      'u.disabled_at',
    ])
    .where('c.id', '=', conversationId)
    .executeTakeFirst();
  if (!conversation) return { kind: 'none' };
  let unread = db
    .selectFrom('chat_message')
    .select(['id', 'body', 'created_at'])
    .where('conversation_id', '=', conversationId)
    .where('author_role', '=', 'staff')
    .where('hidden_at', 'is', null);
  if (conversation.customer_read_id) unread = unread.where('id', '>', conversation.customer_read_id);
  const messages = await unread.orderBy('id').execute();
  const first = messages[0];
  const last = messages.at(-1);
  if (!first || !last) return { kind: 'none' };
  const due = rowDate(em, first.created_at as unknown as string).getTime() + emailAfterMs;
  if (due > now.getTime()) return { kind: 'later', runAt: new Date(due) };
  return {
    kind: 'send',
    key: `chat:${conversationId}:${first.id}`,
    burst: {
      conversationId,
      firstMessageId: first.id,
      messages: messages.length,
      subject: conversation.subject,
      orderId: conversation.order_id,
      customer: {
        id: conversation.user_id,
        email: conversation.email,
        name: conversation.name,
        disabled: conversation.disabled_at !== null,
      },
      lastBody: last.body,
    },
  };
}
