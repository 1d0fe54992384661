import { unreadBurst } from '@keelson/chat';
import { chatReplyMessage, describeDelivery, sendOnce } from '@keelson/email';
import { enqueue } from '@keelson/jobs';
import { notify } from '@keelson/notifications';
import { defineTask } from '../defineTask.ts';

export const chat__email_unread = defineTask('chat__email_unread', async (payload, { em, deps, helpers, logger }) => {
  const verdict = await unreadBurst(em, {
    conversationId: payload.conversationId,
    emailAfterMs: deps.chatEmailAfterMs,
  });
  if (verdict.kind === 'none') {
    logger.info('chat email: every reply was read, nothing to send');
    return;
  }
  if (verdict.kind === 'later') {
    // A newer burst (the earlier one was read): its own delay is not over yet.
    await em.transactional((tx) =>
      enqueue(tx, 'chat__email_unread', { conversationId: payload.conversationId }, { runAt: verdict.runAt }),
    );
    logger.info(`chat email: the unread replies are recent, looking again at ${verdict.runAt.toISOString()}`);
    return;
  }
  const { burst, key } = verdict;
  if (burst.customer.disabled) return;
  const link = `${deps.publicUrl}/account/support/${burst.conversationId}`;
  // The inbox entry and the email are both keyed by the burst: retries add neither twice.
  await em.transactional((tx) =>
    notify(tx, {
      userId: burst.customer.id,
      kind: 'chat_reply',
      title: `Support replied: ${burst.subject}`,
      body: burst.lastBody.slice(0, 300),
      data: { conversationId: burst.conversationId, ...(burst.orderId ? { orderId: burst.orderId } : {}) },
      eventKey: key,
    }),
  );
  const result = await sendOnce(em, deps.mailer, {
    key,
    kind: 'chat_reply',
    jobId: helpers.job.id,
    compose: async () =>
      chatReplyMessage({
        to: burst.customer.email,
        name: burst.customer.name,
        subject: burst.subject,
        replies: burst.messages,
        lastReply: burst.lastBody,
        link,
      }),
  });
  logger.info(`chat email: ${describeDelivery(result)}`);
});
