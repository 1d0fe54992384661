/**
 * The hourly roll-up: idempotent, picks up late events, and the summary read from it matches the raw
 * events.
 */
import { analyticsSummary, hoursBetween, hoursToRoll, rollupHours } from '@keelson/analytics';
import { createProduct, sql, useTestOrm } from '@keelson/testing';
import { beforeAll, describe, expect, it } from 'vitest';

const H = 60 * 60 * 1000;
const base = new Date('2026-06-01T00:00:00Z');
const at = (hours: number, minutes = 0) => new Date(base.getTime() + hours * H + minutes * 60_000);

describe('analytics roll-up', () => {
  const t = useTestOrm();
  const em = () => t.orm.em.fork();
  let products: { id: string; name: string }[];

  const insert = async (events: { name: string; product?: number; at: Date; received?: Date }[]) => {
    await sql(
      t.db.url,
      `insert into analytics_event (name, product_id, occurred_at, received_at)
       select e.name, e.product_id, e.occurred_at, e.received_at
       from jsonb_to_recordset($1::jsonb) as e(name text, product_id uuid, occurred_at timestamptz, received_at timestamptz)`,
      [
        JSON.stringify(
          events.map((e) => ({
            name: e.name,
            product_id: e.product === undefined ? null : products[e.product]!.id,
            occurred_at: e.at,
            received_at: e.received ?? e.at,
          })),
        ),
      ],
    );
  };
  const hourly = () =>
    sql(t.db.url, 'select hour, name, product_id, count from analytics_hourly order by hour, name, product_id');
  const funnel = () => sql(t.db.url, 'select * from analytics_funnel_hourly order by hour');

  beforeAll(async () => {
    products = [];
    for (const name of ['Mug', 'Lamp', 'Desk'])
      products.push(await createProduct(t.db.url, { priceCents: 100, stock: 0, name }));
    const events: Parameters<typeof insert>[0] = [];
    // Hours 0–5: views of three products (more for the mug), carts, checkouts, searches.
    for (let h = 0; h < 6; h++) {
      for (let i = 0; i < 10; i++) events.push({ name: 'product_viewed', product: 0, at: at(h, i) });
      for (let i = 0; i < 4 + h; i++) events.push({ name: 'product_viewed', product: 1, at: at(h, 30 + i) });
      events.push({ name: 'product_viewed', product: 2, at: at(h, 59) });
      for (let i = 0; i < 3; i++) events.push({ name: 'add_to_cart', product: i % 2, at: at(h, 40 + i) });
      events.push({ name: 'checkout_started', at: at(h, 45) }, { name: 'checkout_started', at: at(h, 46) });
      if (h % 2 === 0) events.push({ name: 'checkout_completed', at: at(h, 50) });
      events.push({ name: 'search', at: at(h, 5) });
    }
    await insert(events);
  });

  it('is idempotent: rolling an hour twice gives the same rows', async () => {
    const hours = hoursBetween(at(0), at(6));
    expect(hours).toHaveLength(6);
    await rollupHours(em(), hours);
    const first = { hourly: await hourly(), funnel: await funnel() };
    expect(first.hourly.length).toBeGreaterThan(0);
    await rollupHours(em(), hours);
    await rollupHours(em(), hours.slice(2, 4));
    expect({ hourly: await hourly(), funnel: await funnel() }).toEqual(first);
    // Each hour's roll-up equals the raw count.
    const raw = await sql(
      t.db.url,
      `select date_trunc('hour', occurred_at, 'UTC') as hour, name, product_id, count(*)::int as count
       from analytics_event where occurred_at >= $1 and occurred_at < $2
       group by 1, 2, 3 order by 1, 2, 3`,
      [at(0), at(6)],
    );
    expect(first.hourly).toEqual(raw);
  });

  it('a run rolls the hour that ended, two before it, and hours that received late events', async () => {
    // A run at 05:05 rolls 02:00, 03:00, 04:00.
    expect(await hoursToRoll(em(), at(5, 5))).toEqual([at(2), at(3), at(4)]);
    // A view that happened at 00:20 reaches the API at 04:30 (a client's offline queue).
    await insert([{ name: 'product_viewed', product: 2, at: at(0, 20), received: at(4, 30) }]);
    const hours = await hoursToRoll(em(), at(5, 5));
    expect(hours).toEqual([at(0), at(2), at(3), at(4)]);
    await rollupHours(em(), hours);
    const [row] = await sql<{ count: number }>(
      t.db.url,
      `select count from analytics_hourly where hour = $1 and name = 'product_viewed' and product_id = $2`,
      [at(0), products[2]!.id],
    );
    expect(row!.count).toBe(2);
    // A run long after does not re-roll what arrived before its window.
    expect(await hoursToRoll(em(), at(9, 5))).toEqual([at(6), at(7), at(8)]);
  });

  it('the summary matches the raw events', async () => {
    await rollupHours(em(), hoursBetween(at(0), at(6)));
    const from = at(1);
    const to = at(5);
    const s = await analyticsSummary(em(), { from, to, topProducts: 2 });
    const raw = await sql<{ name: string; product_id: string | null; count: number }>(
      t.db.url,
      `select name, product_id, count(*)::int as count from analytics_event
       where occurred_at >= $1 and occurred_at < $2 group by 1, 2`,
      [from, to],
    );
    const total = (name: string) => raw.filter((r) => r.name === name).reduce((a, r) => a + r.count, 0);
    expect(s.totals).toEqual(
      ['product_viewed', 'add_to_cart', 'checkout_started', 'checkout_completed', 'search'].map((name) => ({
        name,
        count: total(name),
      })),
    );
    // Hours 1–4: the mug 40 views, the lamp 5 + 6 + 7 + 8 = 26, the desk 4.
    expect(s.topProducts).toEqual([
      { productId: products[0]!.id, name: 'Mug', views: 40 },
      { productId: products[1]!.id, name: 'Lamp', views: 26 },
    ]);
    const views = total('product_viewed');
    const carts = total('add_to_cart');
    const started = total('checkout_started');
    const completed = total('checkout_completed');
    expect(s.funnel).toEqual({
      steps: [
        { name: 'product_viewed', count: views, conversion: null },
        { name: 'add_to_cart', count: carts, conversion: carts / views },
        { name: 'checkout_started', count: started, conversion: started / carts },
        { name: 'checkout_completed', count: completed, conversion: completed / started },
      ],
      overallConversion: completed / views,
    });
    expect(completed).toBe(2);
    // No events: zeros and null ratios.
    const empty = await analyticsSummary(em(), { from: at(100), to: at(101) });
    expect(empty.funnel.overallConversion).toBeNull();
    expect(empty.totals.every((x) => x.count === 0)).toBe(true);
  });
});
