import { analyticsSummary, summary, summaryInput, trackEvents, trackInput, trackResult } from '@keelson/analytics';
import { adminProcedure, publicProcedure, router } from '../trpc.ts';

export const analyticsRouter = router({
  /**
   * Records 1–100 client events (anonymous allowed; a signed-in caller's id is kept). Rate limited per
   * IP: 600 events a minute (TOO_MANY_REQUESTS with Retry-After past that).
   */
  track: publicProcedure
    .input(trackInput)
    .output(trackResult)
    .mutation(async ({ ctx, input }) => {
      // Null without a credential, and then without a query.
      const session = await ctx.session();
      return trackEvents(ctx.em, { input, userId: session?.user.id ?? null, ip: ctx.request.ip });
    }),

  /** Admin: totals per event, top viewed products and the funnel, from the hourly roll-ups. */
  summary: adminProcedure
    .input(summaryInput)
    .output(summary)
    .query(({ ctx, input }) => analyticsSummary(ctx.em, input)),
});
