import { issueEmailToken } from '@keelson/auth';
import { User } from '@keelson/db';
import { describeDelivery, sendOnce, verifyEmailMessage } from '@keelson/email';
import { defineTask } from '../defineTask.ts';

export const email__verify_address = defineTask(
  'email__verify_address',
  async (payload, { em, deps, helpers, logger }) => {
    // One email per request (this job); a retry after sending sends nothing and mints no second token.
    const result = await sendOnce(em, deps.mailer, {
      key: `job:${helpers.job.id}`,
      kind: 'verify_email',
      jobId: helpers.job.id,
      compose: async () => {
        const user = await em.findOne(User, payload.userId);
        if (!user || user.disabledAt) return null; // nothing to verify any more
        // An address another account owns gets nothing: the change could never complete anyway.
        if (await em.count(User, { email: payload.email, id: { $ne: user.id } })) return null;
        const token = await issueEmailToken(em, { userId: user.id, kind: 'verify_email', email: payload.email });
        const link = `${deps.publicUrl}/verify-email#token=${encodeURIComponent(token)}`;
        return verifyEmailMessage({ to: payload.email, name: user.name, link });
      },
    });
    logger.info(`verification email: ${describeDelivery(result)}`);
  },
);
