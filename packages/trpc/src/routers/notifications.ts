import {
  listNotifications,
  listNotificationsInput,
  markRead,
  markReadInput,
  markReadResult,
  notificationEvent,
  notificationPage,
} from '@keelson/notifications';
import { z } from 'zod';
import { lastEventIdInput, streamEvents } from '../events.ts';
import { authedProcedure, router } from '../trpc.ts';

const onNewInput = z.object({ lastEventId: lastEventIdInput }).default({});

/** The caller's own inbox; nobody, admins included, reads or marks another user's notifications. */
export const notificationsRouter = router({
  /** Newest first, keyset cursor (`nextCursor`), optionally unread only; with the caller's unread count. */
  list: authedProcedure
    .input(listNotificationsInput)
    .output(notificationPage)
    .query(({ ctx, input }) => listNotifications(ctx.em, ctx.user.id, input)),

  /**
   * Marks `{ ids }` or `{ all: true }` read; idempotent. An id that is not one of the caller's answers
   * NOTIFICATION_NOT_FOUND and nothing is marked.
   */
  markRead: authedProcedure
    .input(markReadInput)
    .output(markReadResult)
    .mutation(({ ctx, input }) => markRead(ctx.em, ctx.user.id, input)),

  /**
   * The caller's new notifications as they are filed, each tracked by its outbox event id: reconnecting
   * with `lastEventId` delivers the missed ones first, from any API process. Each is validated against
   * `notificationDto` (tRPC's `.output()` would validate the stream object, not its items).
   */
  onNew: authedProcedure.input(onNewInput).subscription(({ ctx, input, signal }) => {
    const userId = ctx.user.id;
    return streamEvents(
      ctx,
      {
        topics: ['notification'],
        userId,
        lastEventId: input.lastEventId,
        signal,
      },
      // Parsed by streamEvents: a payload that does not fit is logged and skipped, not a broken stream.
      { map: (e) => e.payload, schema: notificationEvent },
    );
  }),
});
