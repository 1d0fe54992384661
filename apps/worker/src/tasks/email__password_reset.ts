import { issueEmailToken } from '@keelson/auth';
import { User } from '@keelson/db';
import { passwordResetMessage } from '@keelson/email';
import { defineTask } from '../defineTask.ts';

export const email__password_reset = defineTask('email__password_reset', async (payload, { em, deps, helpers }) => {
  const user = await em.findOne(User, payload.userId);
  if (!user || user.disabledAt) return;
  const token = await issueEmailToken(em, { userId: user.id, kind: 'reset_password', email: null });
  const link = `${deps.publicUrl}/reset-password?token=${encodeURIComponent(token)}`;
  const sent = await deps.mailer.send(passwordResetMessage({ to: user.email, name: user.name, link }));
  helpers.logger.info(`password reset email sent (${sent.file ?? sent.messageId})`);
});
