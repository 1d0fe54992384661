import { cleanupAuth } from '@keelson/auth';
import { defineTask } from '../defineTask.ts';

export const auth__cleanup = defineTask('auth__cleanup', async (_payload, { em, logger }) => {
  const deleted = await cleanupAuth(em);
  logger.info(
    `auth cleanup: ${deleted.sessions} sessions, ${deleted.tokens} tokens, ${deleted.throttles} throttle rows, ${deleted.devices} devices deleted`,
  );
});
