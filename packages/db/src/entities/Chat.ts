import { defineEntity, p } from '@mikro-orm/core';
import { uuidv7 } from '../ids.ts';
import { Order } from './Order.ts';
import { User } from './User.ts';

export const chatStatuses = ['open', 'closed'] as const;
export type ChatStatus = (typeof chatStatuses)[number];

/** Who wrote a message: the conversation's customer, or one of the staff (an admin). */
export const chatAuthorRoles = ['customer', 'staff'] as const;
export type ChatAuthorRole = (typeof chatAuthorRoles)[number];

/**
 * A support conversation between one customer and the staff, optionally about one of the customer's
 * orders. The staff read as one team: one read marker for all of them. The `*_read_id` markers are
 * message ids (UUIDv7, so "read up to" is an id comparison); unread counts are the other side's
 * messages after the marker.
 */
export const ChatConversationSchema = defineEntity({
  name: 'ChatConversation',
  tableName: 'chat_conversation',
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => uuidv7()),
    customer: () => p.manyToOne(User).deleteRule('cascade'),
    order: () => p.manyToOne(Order).nullable().deleteRule('set null'),
    subject: p.string().length(200),
    status: p.enum(chatStatuses).default('open'),
    /** The staff member who took it; null while unassigned. */
    assignee: () => p.manyToOne(User).nullable().deleteRule('set null'),
    createdAt: p.datetime().onCreate(() => new Date()),
    lastMessageAt: p.datetime().onCreate(() => new Date()),
    /**
     * Since when the customer waits for an answer: set by a customer message when unset, cleared by a
     * staff reply or by closing. What "oldest unanswered" (the metric and its alert) reads.
     */
    awaitingStaffSince: p.datetime().nullable(),
    customerReadId: p.uuid().nullable(),
    staffReadId: p.uuid().nullable(),
  },
  indexes: [
    { name: 'chat_conversation_customer_idx', properties: ['customer', 'id'] },
    // The staff inbox (open ones, most recent first) and the oldest unanswered one.
    { name: 'chat_conversation_status_idx', properties: ['status', 'lastMessageAt'] },
    {
      name: 'chat_conversation_awaiting_idx',
      expression:
        'create index "chat_conversation_awaiting_idx" on "chat_conversation" ("awaiting_staff_since") where "awaiting_staff_since" is not null',
    },
  ],
});

export class ChatConversation extends ChatConversationSchema.class {}
ChatConversationSchema.setClass(ChatConversation);

/**
 * One message; history is keyset-paged on the UUIDv7 id. Staff may hide one (abuse, a card number
 * pasted in): who and when are kept, the text stays for the record but customers no longer see it.
 * `clientKey` lets a client retry a send without making two messages.
 */
export const ChatMessageSchema = defineEntity({
  name: 'ChatMessage',
  tableName: 'chat_message',
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => uuidv7()),
    conversation: () => p.manyToOne(ChatConversation).deleteRule('cascade'),
    author: () => p.manyToOne(User).nullable().deleteRule('set null'),
    authorRole: p.enum(chatAuthorRoles),
    body: p.string().length(2000),
    clientKey: p.string().length(64).nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    hiddenAt: p.datetime().nullable(),
    hiddenBy: () => p.manyToOne(User).nullable().deleteRule('set null'),
  },
  indexes: [{ name: 'chat_message_conversation_idx', properties: ['conversation', 'id'] }],
  uniques: [{ name: 'chat_message_client_key_unique', properties: ['conversation', 'clientKey'] }],
});

export class ChatMessage extends ChatMessageSchema.class {}
ChatMessageSchema.setClass(ChatMessage);
