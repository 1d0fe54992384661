import { type Database, readSnapshot } from '@keelson/db';
import type { EntityManager } from '@mikro-orm/postgresql';
import { eventNames, funnelSteps, type Summary, type SummaryInput, summaryInput } from './schemas.ts';

/** Typed SQL on the entities' tables, in `em`'s transaction when it has one. */
const kysely = (em: EntityManager) => em.getKysely<Database>();

/**
 * Totals, top products and the funnel over the hours starting in `[from, to)`, read from the roll-ups
 * only (never the raw events, which grow without bound): cheap at any range, up to an hour behind.
 */
export async function analyticsSummary(em: EntityManager, raw: SummaryInput): Promise<Summary> {
  const input = summaryInput.parse(raw);
  // One snapshot: a roll-up committing between these reads made the totals and the funnel disagree.
  const { totals, top, funnel } = await readSnapshot(em, async (tx) => {
    const db = kysely(tx);
    const totals = await db
      .selectFrom('analytics_hourly')
      .select((eb) => ['name', eb.fn.sum('count').as('count')])
      .where('hour', '>=', input.from)
      .where('hour', '<', input.to)
      .groupBy('name')
      .execute();
    // Grouped and ordered by `p.id`, which the join makes equal to `h.product_id` (and not null).
    const top = await db
      .selectFrom('analytics_hourly as h')
      .innerJoin('product as p', 'p.id', 'h.product_id')
      .select((eb) => ['p.id as product_id', 'p.name', eb.fn.sum('h.count').as('views')])
      .where('h.name', '=', 'product_viewed')
      .where('h.hour', '>=', input.from)
      .where('h.hour', '<', input.to)
      .groupBy(['p.id', 'p.name'])
      .orderBy('views', 'desc')
      .orderBy('p.id')
      .limit(input.topProducts)
      .execute();
    const funnel = await db
      .selectFrom('analytics_funnel_hourly')
      .select((eb) => [
        eb.fn.sum('product_viewed').as('product_viewed'),
        eb.fn.sum('add_to_cart').as('add_to_cart'),
        eb.fn.sum('checkout_started').as('checkout_started'),
        eb.fn.sum('checkout_completed').as('checkout_completed'),
      ])
      .where('hour', '>=', input.from)
      .where('hour', '<', input.to)
      .executeTakeFirst();
    return { totals, top, funnel };
  });
  const counts = funnelSteps.map((name) => Number(funnel?.[name] ?? 0));
  const ratio = (n: number, d: number) => (d > 0 ? n / d : null);
  return {
    from: input.from,
    to: input.to,
    totals: eventNames.map((name) => ({ name, count: Number(totals.find((t) => t.name === name)?.count ?? 0) })),
    topProducts: top.map((t) => ({ productId: t.product_id, name: t.name, views: Number(t.views) })),
    funnel: {
      steps: funnelSteps.map((name, i) => ({
        name,
        count: counts[i]!,
        conversion: i === 0 ? null : ratio(counts[i]!, counts[i - 1]!),
      })),
      overallConversion: ratio(counts[3]!, counts[0]!),
    },
  };
}
