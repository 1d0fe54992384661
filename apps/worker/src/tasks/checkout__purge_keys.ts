import { purgeCheckoutKeys } from '@keelson/orders';
import { defineTask } from '../defineTask.ts';

export const checkout__purge_keys = defineTask('checkout__purge_keys', async (_payload, { em, logger }) => {
  logger.info(`checkout keys purged: ${await purgeCheckoutKeys(em)}`);
});
