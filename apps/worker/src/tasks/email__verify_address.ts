import { issueEmailToken } from '@keelson/auth';
import { User } from '@keelson/db';
import { verifyEmailMessage } from '@keelson/email';
import { defineTask } from '../defineTask.ts';

export const email__verify_address = defineTask('email__verify_address', async (payload, { em, deps, logger }) => {
  const user = await em.findOne(User, payload.userId);
  if (!user || user.disabledAt) return; // nothing to verify any more
  // An address another account owns gets nothing: the change could never complete anyway.
  if (await em.count(User, { email: payload.email, id: { $ne: user.id } })) return;
  const token = await issueEmailToken(em, { userId: user.id, kind: 'verify_email', email: payload.email });
  const link = `${deps.publicUrl}/verify-email?token=${encodeURIComponent(token)}`;
  const sent = await deps.mailer.send(verifyEmailMessage({ to: payload.email, name: user.name, link }));
  logger.info(`verification email sent (${sent.file ?? sent.messageId})`);
});
