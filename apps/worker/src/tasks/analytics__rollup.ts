import { hoursBetween, hoursToRoll, rollupHours } from '@keelson/analytics';
import { defineTask } from '../defineTask.ts';

export const analytics__rollup = defineTask('analytics__rollup', async (payload, { em, logger }) => {
  const hours =
    payload.from && payload.to
      ? hoursBetween(new Date(payload.from), new Date(payload.to))
      : // The cron's own timestamp, not the clock: a backfilled run rolls up the hours it was due for.
        await hoursToRoll(em, payload._cron ? new Date(payload._cron.ts) : new Date());
  await rollupHours(em, hours);
  logger.info(
    `analytics rolled up: ${hours.length} hours (${hours[0]?.toISOString()} … ${hours.at(-1)?.toISOString()})`,
  );
});
