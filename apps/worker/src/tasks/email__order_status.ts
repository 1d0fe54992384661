import { User } from '@keelson/db';
import { describeDelivery, orderStatusMessage, sendOnce } from '@keelson/email';
import { getOrder } from '@keelson/orders';
import { defineTask } from '../defineTask.ts';

export const email__order_status = defineTask('email__order_status', async (payload, { em, deps, helpers, logger }) => {
  // Keyed by the business event, not the job: however many jobs an order's payment produces, the
  // customer hears once that it was paid.
  const result = await sendOnce(em, deps.mailer, {
    key: `order:${payload.orderId}:${payload.status}`,
    kind: `order_${payload.status}`,
    jobId: helpers.job.id,
    compose: async () => {
      const order = await getOrder(em, payload.orderId);
      const user = await em.findOne(User, order.userId);
      if (!user || user.disabledAt) return null;
      return orderStatusMessage({
        to: user.email,
        name: user.name,
        status: payload.status,
        order,
        link: `${deps.publicUrl}/orders/${order.id}`,
      });
    },
  });
  logger.info(`order ${payload.status} email: ${describeDelivery(result)}`);
});
