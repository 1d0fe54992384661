import { readSnapshot } from '@keelson/db';
import type { EntityManager } from '@mikro-orm/postgresql';
import { eventNames, funnelSteps, type Summary, type SummaryInput, summaryInput } from './schemas.ts';

/**
 * Totals, top products and the funnel over the hours starting in `[from, to)`, read from the roll-ups
 * only (never the raw events, which grow without bound): cheap at any range, up to an hour behind.
 */
export async function analyticsSummary(em: EntityManager, raw: SummaryInput): Promise<Summary> {
  const input = summaryInput.parse(raw);
  const range = [input.from, input.to];
  // One snapshot: a roll-up committing between these reads made the totals and the funnel disagree.
  const { totals, top, funnel } = await readSnapshot(em, async (tx) => {
    const conn = tx.getConnection();
    const ctx = tx.getTransactionContext();
    const totals = await conn.execute<{ name: string; count: string }[]>(
      'select name, sum(count) as count from analytics_hourly where hour >= ? and hour < ? group by name',
      range,
      'all',
      ctx,
    );
    const top = await conn.execute<{ product_id: string; name: string; views: string }[]>(
      `select h.product_id, p.name, sum(h.count) as views
       from analytics_hourly h join product p on p.id = h.product_id
       where h.name = 'product_viewed' and h.hour >= ? and h.hour < ?
       group by h.product_id, p.name order by views desc, h.product_id limit ?`,
      [...range, input.topProducts],
      'all',
      ctx,
    );
    const [funnel] = await conn.execute<Record<string, string | null>[]>(
      `select sum(product_viewed) as product_viewed, sum(add_to_cart) as add_to_cart,
         sum(checkout_started) as checkout_started, sum(checkout_completed) as checkout_completed
       from analytics_funnel_hourly where hour >= ? and hour < ?`,
      range,
      'all',
      ctx,
    );
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
