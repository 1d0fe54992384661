import {
  cancelJob,
  countJobs,
  jobCount,
  jobDto,
  jobIdInput,
  jobPage,
  listJobs,
  listJobsInput,
  retryJob,
} from '@keelson/jobs';
import { z } from 'zod';
import { adminProcedure, router } from '../trpc.ts';

/** Background jobs for operators: what failed, what runs, what waits; retry or cancel. Admin only. */
export const jobsRouter = router({
  list: adminProcedure
    .input(listJobsInput)
    .output(jobPage)
    .query(({ ctx, input }) => listJobs(ctx.em, input)),
  counts: adminProcedure
    .input(z.void())
    .output(z.array(jobCount))
    .query(({ ctx }) => countJobs(ctx.em)),
  /** A failed or queued job runs again now, attempts reset. */
  retry: adminProcedure
    .input(jobIdInput)
    .output(jobDto)
    .mutation(({ ctx, input }) => retryJob(ctx.em, input.id)),
  /** The job never runs again; it stays listed as failed, its last error naming who cancelled it. */
  cancel: adminProcedure
    .input(jobIdInput)
    .output(jobDto)
    .mutation(({ ctx, input }) => cancelJob(ctx.em, { id: input.id, actorId: ctx.user.id })),
});
