import {
  assign,
  assignInput,
  chatEvent,
  chatMessageDto,
  conversationDto,
  conversationIdInput,
  conversationPage,
  conversationSide,
  getConversation,
  hideMessage,
  hideMessageInput,
  history,
  historyInput,
  historyPage,
  inboxInput,
  listConversationsInput,
  listOwnConversations,
  markRead,
  markReadInput,
  openConversation,
  openConversationInput,
  publishTyping,
  sendMessage,
  sendMessageInput,
  setStatus,
  staffInbox,
  type TypingEvent,
  typingEvent,
  type Viewer,
} from '@keelson/chat';
import { AppError } from '@keelson/errors';
import type { StoredEvent } from '@keelson/realtime';
import { z } from 'zod';
import type { Context } from '../context.ts';
import { lastEventIdInput, streamEvents } from '../events.ts';
import { subscriptionSignal } from '../liveSubscription.ts';
import { adminProcedure, authedProcedure, router } from '../trpc.ts';

const viewerOf = (ctx: { user: { id: string; role: string } }): Viewer => ({
  userId: ctx.user.id,
  staff: ctx.user.role === 'admin',
});

const chatEvents = { schema: chatEvent, map: (e: StoredEvent) => e.payload };

const sentHook = (ctx: Pick<Context, 'metrics'>) => ({
  onSent: (role: 'customer' | 'staff') => ctx.metrics?.chatMessageSent(role),
});

/**
 * Support chat. A customer sees and writes in their own conversations only (anyone else's answers
 * CONVERSATION_NOT_FOUND, live and on resume); admins are the staff and see every conversation.
 */
export const chatRouter = router({
  /** A customer opens a conversation (optionally about one of their orders) with its first message. */
  open: authedProcedure
    .input(openConversationInput)
    .output(conversationDto)
    .mutation(({ ctx, input }) =>
      openConversation(ctx.em, { customerId: ctx.user.id, input, settings: ctx.chat, hooks: sentHook(ctx) }),
    ),

  /** The caller's own conversations, newest first, with unread replies. */
  list: authedProcedure
    .input(listConversationsInput)
    .output(conversationPage)
    .query(({ ctx, input }) => listOwnConversations(ctx.em, ctx.user.id, input)),

  /** Staff: conversations by status (open by default), with unread counts, the order and the assignee. */
  inbox: adminProcedure
    .input(inboxInput)
    .output(conversationPage)
    .query(({ ctx, input }) => staffInbox(ctx.em, ctx.user.id, input)),

  get: authedProcedure
    .input(conversationIdInput)
    .output(conversationDto)
    .query(({ ctx, input }) => getConversation(ctx.em, viewerOf(ctx), input.conversationId)),

  /** History, keyset-paged backwards (`cursor` = the oldest id shown), each page oldest first. */
  messages: authedProcedure
    .input(historyInput)
    .output(historyPage)
    .query(({ ctx, input }) => history(ctx.em, viewerOf(ctx), input)),

  /**
   * A message (at most CHAT_SEND_PER_MINUTE a minute per user: TOO_MANY_REQUESTS with Retry-After
   * beyond). With `clientKey`, a retry returns the first message instead of a second one.
   */
  send: authedProcedure
    .input(sendMessageInput)
    .output(chatMessageDto)
    .mutation(({ ctx, input }) =>
      sendMessage(ctx.em, { viewer: viewerOf(ctx), input, settings: ctx.chat, hooks: sentHook(ctx) }),
    ),

  /** Moves the caller's read marker (never back); the other side sees it live. */
  markRead: authedProcedure
    .input(markReadInput)
    .output(z.object({ unread: z.number().int().min(0) }))
    .mutation(({ ctx, input }) => markRead(ctx.em, viewerOf(ctx), input)),

  close: authedProcedure
    .input(conversationIdInput)
    .output(conversationDto)
    .mutation(({ ctx, input }) =>
      setStatus(ctx.em, viewerOf(ctx), { conversationId: input.conversationId, status: 'closed' }),
    ),

  reopen: authedProcedure
    .input(conversationIdInput)
    .output(conversationDto)
    .mutation(({ ctx, input }) =>
      setStatus(ctx.em, viewerOf(ctx), { conversationId: input.conversationId, status: 'open' }),
    ),

  /** Staff: take the conversation, or leave it unassigned. */
  assign: adminProcedure
    .input(assignInput)
    .output(conversationDto)
    .mutation(({ ctx, input }) => assign(ctx.em, ctx.user.id, input)),

  /** Staff: hides a message from the customer (who and when are kept; its text leaves the realtime log). */
  hideMessage: adminProcedure
    .input(hideMessageInput)
    .output(chatMessageDto)
    .mutation(({ ctx, input }) => hideMessage(ctx.em, ctx.user.id, input.messageId)),

  /**
   * "I am writing": sent to the other side of the conversation on every API process, never stored.
   * At most one a second per user and conversation (TOO_MANY_REQUESTS beyond).
   */
  typing: authedProcedure
    .input(conversationIdInput)
    .output(z.object({ sent: z.literal(true) }))
    .mutation(async ({ ctx, input }) => {
      const side = await conversationSide(ctx.em, viewerOf(ctx), input.conversationId);
      if (ctx.typing && !ctx.typing.allow(ctx.user.id, input.conversationId)) {
        throw new AppError('RATE_LIMITED', { details: { retryAfterSeconds: 1 } });
      }
      const name = side === 'staff' ? (ctx.user.name.split(/\s+/)[0] ?? 'Support') : ctx.user.name;
      await publishTyping(ctx.em, { conversationId: input.conversationId, role: side, name });
      return { sent: true as const };
    }),

  /**
   * One conversation's changes (messages, read receipts, hidden messages, status), tracked by event id:
   * reconnecting with `lastEventId` delivers exactly the missed ones first, from any API process.
   */
  onMessage: authedProcedure
    .input(conversationIdInput.extend({ lastEventId: lastEventIdInput }))
    .subscription(async ({ ctx, input, signal }) => {
      const side = await conversationSide(ctx.em, viewerOf(ctx), input.conversationId);
      return streamEvents(
        ctx,
        {
          topics: ['chat'],
          // A customer's stream holds only their own events, whatever the filter below says.
          ...(side === 'customer' ? { userId: ctx.user.id } : {}),
          filter: (e: StoredEvent) => e.payload.conversationId === input.conversationId,
          lastEventId: input.lastEventId,
          signal,
        },
        chatEvents,
      );
    }),

  /** Every conversation's changes: for staff, the whole inbox; for a customer, their own conversations. */
  onInbox: authedProcedure
    .input(z.object({ lastEventId: lastEventIdInput }).default({}))
    .subscription(({ ctx, input, signal }) =>
      streamEvents(
        ctx,
        {
          topics: ['chat'],
          ...(ctx.user.role === 'admin' ? {} : { userId: ctx.user.id }),
          lastEventId: input.lastEventId,
          signal,
        },
        chatEvents,
      ),
    ),

  /** The other side's typing indicators in one conversation (not tracked: nothing to resume). */
  onTyping: authedProcedure.input(conversationIdInput).subscription(async ({ ctx, input, signal }) => {
    const side = await conversationSide(ctx.em, viewerOf(ctx), input.conversationId);
    const bus = ctx.typing;
    if (!bus) throw new AppError('INTERNAL', { message: 'Typing indicators are not available here.' });
    const own = subscriptionSignal(ctx, signal);
    return (async function* (): AsyncGenerator<TypingEvent, void, undefined> {
      for await (const event of bus.stream(input.conversationId, own)) {
        if (event.role === side) continue;
        yield typingEvent.parse(event);
      }
    })();
  }),
});
