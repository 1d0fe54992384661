/**
 * The summary's totals and funnel come from one snapshot: a roll-up rewrites both tables in one
 * transaction, so however roll-ups race the reads, the views the totals count are the funnel's first
 * step.
 */
import { analyticsSummary, rollupHours } from '@keelson/analytics';
import { sql, useTestOrm } from '@keelson/testing';
import { describe, expect, it } from 'vitest';

const HOUR = new Date('2026-06-01T10:00:00Z');
const ROLLUPS = 40;
const READERS = 6;

describe('analyticsSummary under concurrent roll-ups', () => {
  const t = useTestOrm({ poolMax: 10 });
  const fork = () => t.orm.em.fork();

  it('answers totals that agree with the funnel read with them', { timeout: 120_000 }, async () => {
    let writing = true;
    const writers = (async () => {
      for (let i = 0; i < ROLLUPS; i++) {
        // One more view each round, then the hour is rolled up again.
        await sql(
          t.db.url,
          `insert into analytics_event (name, occurred_at, received_at) values ('product_viewed', $1, $1)`,
          [new Date(HOUR.getTime() + i * 1000)],
        );
        await rollupHours(fork(), [HOUR]);
      }
    })().finally(() => {
      writing = false;
    });

    let reads = 0;
    const torn: { totals: number; funnel: number }[] = [];
    const range = { from: HOUR, to: new Date(HOUR.getTime() + 60 * 60 * 1000) };
    const readers = Array.from({ length: READERS }, async () => {
      while (writing) {
        const summary = await analyticsSummary(fork(), range);
        reads++;
        const totals = summary.totals.find((x) => x.name === 'product_viewed')!.count;
        const funnel = summary.funnel.steps[0]!.count;
        if (totals !== funnel) torn.push({ totals, funnel });
      }
    });
    await Promise.all([writers, ...readers]);

    console.info(`analyticsSummary snapshot: ${reads} reads during ${ROLLUPS} roll-ups, ${torn.length} torn`);
    expect(reads).toBeGreaterThan(ROLLUPS);
    expect(torn).toEqual([]);
    expect((await analyticsSummary(fork(), range)).funnel.steps[0]!.count).toBe(ROLLUPS);
  });
});
