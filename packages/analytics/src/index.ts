export {
  ACTIVE_CART_MINUTES,
  DASHBOARD_MINUTES,
  type DashboardSnapshot,
  dashboardSnapshot,
  readDashboardSnapshot,
} from './dashboard.ts';
export { createDashboardFeed, type DashboardFeed, type DashboardFeedOptions } from './dashboardFeed.ts';
export { hoursBetween, hoursToRoll, REROLL_HOURS, rollupHours, startOfHour } from './rollup.ts';
export * from './schemas.ts';
export { analyticsSummary } from './summary.ts';
export { trackEvents } from './track.ts';
