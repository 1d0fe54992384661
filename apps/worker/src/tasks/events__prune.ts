import { pruneEvents } from '@keelson/realtime';
import { defineTask } from '../defineTask.ts';

export const events__prune = defineTask('events__prune', async (_payload, { em, logger, deps }) => {
  const { deleted, prunedThrough } = await pruneEvents(em, {
    olderThan: new Date(Date.now() - deps.eventsRetentionMs),
  });
  logger.info({ deleted, prunedThrough }, `realtime events pruned: ${deleted}`);
});
