export { hoursBetween, hoursToRoll, REROLL_HOURS, rollupHours, startOfHour } from './rollup.ts';
export * from './schemas.ts';
export { analyticsSummary } from './summary.ts';
export { trackEvents } from './track.ts';
