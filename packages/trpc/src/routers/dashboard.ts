import type { DashboardSnapshot } from '@keelson/analytics';
import { AppError } from '@keelson/errors';
import { z } from 'zod';
import { subscriptionSignal } from '../liveSubscription.ts';
import { adminProcedure, router } from '../trpc.ts';

export const dashboardRouter = router({
  /**
   * Admin: the shop's live figures (see `DashboardSnapshot` for what each means), the latest at once and
   * then one every DASHBOARD_INTERVAL_MS. Every subscriber of an API process shares one query per tick.
   * Snapshots are not tracked: each supersedes the last, so a reconnecting client has nothing to resume.
   */
  live: adminProcedure.input(z.void()).subscription(async function* ({
    ctx,
    signal,
  }): AsyncGenerator<DashboardSnapshot, void, undefined> {
    if (!ctx.dashboard) throw new AppError('INTERNAL', { message: 'The live dashboard is not available here.' });
    // No `.output()`: on a subscription tRPC 11 validates the generator object, not what it yields.
    // Each snapshot is parsed with `dashboardSnapshot` once per tick where it is read, not once per subscriber.
    // Also ended by the server (a revoked session, shutdown), which tRPC's `signal` does not see over SSE.
    yield* ctx.dashboard.subscribe(subscriptionSignal(ctx, signal));
  }),
});
