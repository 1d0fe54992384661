import { scheduleDailySalesReport } from '@keelson/reports';
import { defineTask } from '../defineTask.ts';

export const report__daily_sales = defineTask('report__daily_sales', async (payload, { em, logger }) => {
  // The cron's own timestamp, not the clock: a backfilled run reports the day it was scheduled for.
  const at = payload._cron ? new Date(payload._cron.ts) : new Date();
  const report = await scheduleDailySalesReport(em, at);
  logger.info(`daily sales report ${report.id} for ${report.params.from.toISOString().slice(0, 10)} queued`);
});
