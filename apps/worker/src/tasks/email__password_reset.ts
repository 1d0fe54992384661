import { issuePasswordReset } from '@keelson/auth';
import { passwordResetMessage } from '@keelson/email';
import { defineTask } from '../defineTask.ts';

export const email__password_reset = defineTask('email__password_reset', async (payload, { em, deps, logger }) => {
  const issued = await issuePasswordReset(em, payload.email);
  if (!issued) return; // no such account, disabled, or asked too often: silence, by design
  const link = `${deps.publicUrl}/reset-password?token=${encodeURIComponent(issued.token)}`;
  const sent = await deps.mailer.send(passwordResetMessage({ to: issued.user.email, name: issued.user.name, link }));
  logger.info(`password reset email sent (${sent.file ?? sent.messageId})`);
});
