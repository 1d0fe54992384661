import { expirePendingPayments } from '@keelson/orders';
import { defineTask } from '../defineTask.ts';

export const payment__expire_pending = defineTask('payment__expire_pending', async (_payload, { em, deps, logger }) => {
  const failed = await expirePendingPayments(em, deps.paymentTimeoutMs);
  if (failed) logger.info(`unpaid orders expired: ${failed}`);
});
