import { refundPayment } from '@keelson/orders';
import { defineTask } from '../defineTask.ts';

export const payment__refund = defineTask('payment__refund', async (payload, { em, deps, logger }) => {
  const outcome = await refundPayment(em, deps.payments, payload.orderId);
  logger.info(`refund for order ${payload.orderId}: ${outcome}`);
});
