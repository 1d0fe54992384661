import { capturePayment } from '@keelson/orders';
import { defineTask } from '../defineTask.ts';

export const payment__capture = defineTask('payment__capture', async (payload, { em, deps, logger }) => {
  const outcome = await capturePayment(em, deps.payments, payload.orderId);
  if (outcome === 'declined') deps.metrics?.paymentFailed();
  logger.info(`payment capture for order ${payload.orderId}: ${outcome}`);
});
