import { generateSalesReport, markReportFailed } from '@keelson/reports';
import { defineTask } from '../defineTask.ts';

export const report__generate_sales = defineTask(
  'report__generate_sales',
  async (payload, { em, deps, helpers, logger }) => {
    try {
      const result = await generateSalesReport(em, {
        reportId: payload.reportId,
        chunkBytes: deps.reports.chunkBytes,
        fetchRows: deps.reports.fetchRows,
      });
      if (result.outcome === 'ready') {
        logger.info(
          `report ${payload.reportId}: ${result.rowCount} rows, ${result.byteSize} bytes in ${result.chunkCount} chunks`,
        );
      } else {
        logger.info(`report ${payload.reportId}: nothing to do (${result.outcome})`);
      }
    } catch (err) {
      // graphile-worker counts this run in `attempts` before it starts; on the last one the admin must
      // learn that no file is coming. The cause stays in the job's last_error and the logs, not in the
      // report row an API client reads (it may hold SQL).
      if (helpers.job.attempts >= helpers.job.max_attempts) {
        await markReportFailed(em.fork(), {
          reportId: payload.reportId,
          error: `Generation failed after ${helpers.job.attempts} attempts; the worker's logs have the cause (job ${helpers.job.id}).`,
        });
      }
      throw err;
    }
  },
);
