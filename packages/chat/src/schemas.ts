/** Inputs and outputs of the support chat, shared by the domain functions, the router and the worker. */
import { chatAuthorRoles, chatStatuses, multiLineText, singleLineText } from '@keelson/db';
import { z } from 'zod';

/** Longest message, in characters (the column holds 2,000). */
export const MAX_MESSAGE_LENGTH = 2000;

/**
 * A message: free text (tabs and line breaks allowed, no other control character, no NUL), not blank,
 * at most 2,000 characters. Stored as written and always shown as text.
 */
export const messageBody = z
  .string()
  .max(MAX_MESSAGE_LENGTH, `At most ${MAX_MESSAGE_LENGTH} characters`)
  .regex(multiLineText.pattern, multiLineText.message)
  .refine((s) => s.trim().length > 0, 'Write a message');

/**
 * An id from a client, lower-cased: ids are compared as text where events are filtered and read
 * markers moved, and PostgreSQL writes uuids in lower case.
 */
const id = () => z.uuid().transform((s) => s.toLowerCase());

export const conversationIdInput = z.object({ conversationId: id() });

export const openConversationInput = z.object({
  /** One of the caller's orders this is about; another customer's answers ORDER_NOT_FOUND. */
  orderId: id().optional(),
  /** One line; default "Order …" for an order, else "Question". */
  subject: z.string().trim().min(1).max(200).regex(singleLineText.pattern, singleLineText.message).optional(),
  /** The first message. */
  body: messageBody,
});
export type OpenConversationInput = z.infer<typeof openConversationInput>;

export const sendMessageInput = z.object({
  conversationId: id(),
  body: messageBody,
  /** Chosen by the client per message: a retried send with the same key returns the first message. */
  clientKey: z
    .string()
    .regex(/^[A-Za-z0-9_-]{8,64}$/, '8 to 64 letters, digits, - or _')
    .optional(),
});
export type SendMessageInput = z.infer<typeof sendMessageInput>;

export const historyInput = z.object({
  conversationId: id(),
  /** The oldest message id already shown (`nextCursor`): the page of older messages before it. */
  cursor: id().optional(),
  /** Default 50. */
  limit: z.number().int().min(1).max(200).default(50),
});
export type HistoryInput = z.input<typeof historyInput>;

export const markReadInput = z.object({
  conversationId: id(),
  /** The newest message the caller has seen; the marker never moves back. */
  upTo: id(),
});

export const listConversationsInput = z.object({
  /** The last id of the previous page (newest first). */
  cursor: id().optional(),
  limit: z.number().int().min(1).max(100).default(20),
});

export const inboxInput = z.object({
  /** Default open. */
  status: z.enum(chatStatuses).default('open'),
  /** Only those assigned to the caller. */
  mine: z.boolean().default(false),
  /** The last id of the previous page (most recent activity first is not stable under new messages; id order is). */
  cursor: id().optional(),
  limit: z.number().int().min(1).max(100).default(30),
});
export type InboxInput = z.input<typeof inboxInput>;

export const assignInput = z.object({
  conversationId: id(),
  /** True takes it; false leaves it unassigned. */
  toMe: z.boolean(),
});

export const hideMessageInput = z.object({ messageId: id() });

export const chatMessageDto = z.object({
  id: z.uuid(),
  conversationId: z.uuid(),
  authorRole: z.enum(chatAuthorRoles),
  /** The author's name as the other side sees it (staff show by first name). */
  authorName: z.string(),
  /** Null once hidden, for the customer; staff still read it. */
  body: z.string().nullable(),
  hidden: z.boolean(),
  /** Staff only: who hid it and when. */
  hiddenBy: z.string().nullable(),
  hiddenAt: z.date().nullable(),
  createdAt: z.date(),
});
export type ChatMessageDto = z.infer<typeof chatMessageDto>;

export const conversationDto = z.object({
  id: z.uuid(),
  subject: z.string(),
  status: z.enum(chatStatuses),
  orderId: z.uuid().nullable(),
  /** The order's context: its status and total now. */
  order: z.object({ status: z.string(), totalCents: z.number().int(), currency: z.string() }).nullable(),
  customer: z.object({ id: z.uuid(), name: z.string() }),
  /** Staff only: the customer's email, for context. */
  customerEmail: z.string().nullable(),
  assignee: z.object({ id: z.uuid(), name: z.string() }).nullable(),
  createdAt: z.date(),
  lastMessageAt: z.date(),
  /** Since when the customer waits for the staff; null when answered. */
  awaitingStaffSince: z.date().nullable(),
  /** The other side's messages the caller has not read. */
  unread: z.number().int().min(0),
  /** The newest message the other side has read (read receipts). */
  otherReadUpTo: z.uuid().nullable(),
  lastMessage: z.object({ authorRole: z.enum(chatAuthorRoles), preview: z.string().nullable() }).nullable(),
});
export type ConversationDto = z.infer<typeof conversationDto>;

export const conversationPage = z.object({
  items: z.array(conversationDto),
  nextCursor: z.uuid().nullable(),
});
export type ConversationPage = z.infer<typeof conversationPage>;

export const historyPage = z.object({
  /** Oldest first, for display. */
  items: z.array(chatMessageDto),
  /** Pass as `cursor` for the older page; null at the start of the conversation. */
  nextCursor: z.uuid().nullable(),
});
export type HistoryPage = z.infer<typeof historyPage>;

/**
 * What `chat.onMessage` and `chat.onInbox` yield (inside `tracked`), one conversation's change:
 * - `message`: a new message (for a customer, never one hidden since: a hidden body is scrubbed
 *   from the log);
 * - `read`: one side has read up to a message (read receipts, unread counts);
 * - `hidden`: staff hid a message;
 * - `conversation`: status or assignee changed.
 */
const at = z.coerce.date();
export const chatEvent = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('message'),
    conversationId: z.uuid(),
    message: chatMessageDto.extend({ createdAt: at, hiddenAt: at.nullable() }),
    at,
  }),
  z.object({ kind: z.literal('read'), conversationId: z.uuid(), side: z.enum(chatAuthorRoles), upTo: z.uuid(), at }),
  z.object({ kind: z.literal('hidden'), conversationId: z.uuid(), messageId: z.uuid(), at }),
  z.object({
    kind: z.literal('conversation'),
    conversationId: z.uuid(),
    status: z.enum(chatStatuses),
    assigneeId: z.uuid().nullable(),
    at,
  }),
]);
export type ChatEvent = z.infer<typeof chatEvent>;

/** What `chat.onTyping` yields: someone is writing in the conversation (untracked, never stored). */
export const typingEvent = z.object({
  conversationId: z.uuid(),
  role: z.enum(chatAuthorRoles),
  name: z.string(),
  at: z.date(),
});
export type TypingEvent = z.infer<typeof typingEvent>;
