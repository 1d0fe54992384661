import { cleanupAuth } from '@keelson/auth';
import { defineTask } from '../defineTask.ts';

export const auth__cleanup = defineTask('auth__cleanup', async (_payload, { em, helpers }) => {
  const deleted = await cleanupAuth(em);
  helpers.logger.info(
    `auth cleanup: ${deleted.sessions} sessions, ${deleted.tokens} tokens, ${deleted.throttles} throttle rows deleted`,
  );
});
