import { expect } from 'vitest';
import type { DrillReport } from '../src/drills.ts';

/** No failure, and the drill really did what it claims: each figure at least its floor. */
export function expectPassed(report: DrillReport, floors: Record<string, number>): void {
  console.log(`${report.drill} on ${report.database}:`, report.figures);
  expect(report.failures).toEqual([]);
  for (const [figure, floor] of Object.entries(floors)) {
    expect(Number(report.figures[figure]), figure).toBeGreaterThanOrEqual(floor);
  }
}
