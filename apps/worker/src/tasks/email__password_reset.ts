import { issuePasswordReset } from '@keelson/auth';
import { describeDelivery, passwordResetMessage, sendOnce } from '@keelson/email';
import { defineTask } from '../defineTask.ts';

export const email__password_reset = defineTask(
  'email__password_reset',
  async (payload, { em, deps, helpers, logger }) => {
    // One email per request (this job). The token is minted only when this attempt owns the delivery: a
    // second token would void the first (one live reset link per account), i.e. the link already sent.
    const result = await sendOnce(em, deps.mailer, {
      key: `job:${helpers.job.id}`,
      kind: 'password_reset',
      jobId: helpers.job.id,
      compose: async () => {
        const issued = await issuePasswordReset(em, payload.email);
        if (!issued) return null; // no such account, disabled, or asked too often: silence, by design
        const link = `${deps.publicUrl}/reset-password#token=${encodeURIComponent(issued.token)}`;
        return passwordResetMessage({ to: issued.user.email, name: issued.user.name, link });
      },
    });
    logger.info(`password reset email: ${describeDelivery(result)}`);
  },
);
