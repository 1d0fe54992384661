import { User } from '@keelson/db';
import { orderStatusMessage } from '@keelson/email';
import { getOrder } from '@keelson/orders';
import { defineTask } from '../defineTask.ts';

export const email__order_status = defineTask('email__order_status', async (payload, { em, deps, logger }) => {
  const order = await getOrder(em, payload.orderId);
  const user = await em.findOne(User, order.userId);
  if (!user || user.disabledAt) return;
  const sent = await deps.mailer.send(
    orderStatusMessage({
      to: user.email,
      name: user.name,
      status: payload.status,
      order,
      link: `${deps.publicUrl}/orders/${order.id}`,
    }),
  );
  logger.info(`order ${payload.status} email sent (${sent.file ?? sent.messageId})`);
});
