import { accountExistsNotice } from '@keelson/auth';
import { accountExistsMessage, describeDelivery, sendOnce } from '@keelson/email';
import { defineTask } from '../defineTask.ts';

export const email__account_exists = defineTask(
  'email__account_exists',
  async (payload, { em, deps, helpers, logger }) => {
    // One email per sign-up attempt (this job), whatever the retries.
    const result = await sendOnce(em, deps.mailer, {
      key: `job:${helpers.job.id}`,
      kind: 'account_exists',
      jobId: helpers.job.id,
      compose: async () => {
        const user = await accountExistsNotice(em, payload.userId);
        if (!user) return null; // disabled, gone, or told often enough this hour
        return accountExistsMessage({ to: user.email, name: user.name, link: `${deps.publicUrl}/sign-in` });
      },
    });
    logger.info(`account exists email: ${describeDelivery(result)}`);
  },
);
