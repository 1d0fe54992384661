/**
 * The admin dashboard's live figures, read in one statement so every figure describes the same instant.
 *
 * Glossary (every figure is computed by the database at `at`, its `now()`):
 * - ordersLastMinute: orders placed (`store_order.created_at`) in the 60 seconds up to `at`, whatever
 *   became of them since.
 * - ordersPerMinute: orders placed in each of the last 60 calendar minutes, oldest first; the last entry
 *   is the current, still running minute.
 * - revenueTodayCents: the sum of `total_cents` of the orders placed since 00:00 UTC today whose payment
 *   went through and was not undone (status paid, shipped or delivered), in the store currency's minor
 *   units. Payment follows placement within seconds, so an order counts on the day it was placed.
 * - activeCarts: customers with at least one cart line added or changed in the last 30 minutes.
 * - jobsReady: graphile-worker jobs due now (run_at reached), not locked and with attempts left.
 * - jobsLocked: graphile-worker jobs a worker has locked (running, or held by a worker that died and
 *   has not been swept yet).
 */
import { type Database, rowDate } from '@keelson/db';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { z } from 'zod';

/** Minutes in `ordersPerMinute`. */
export const DASHBOARD_MINUTES = 60;
/** A cart touched this recently is active. */
export const ACTIVE_CART_MINUTES = 30;

const count = z.number().int().nonnegative();

export const dashboardSnapshot = z.object({
  at: z.date(),
  ordersLastMinute: count,
  ordersPerMinute: z.array(count).length(DASHBOARD_MINUTES),
  revenueTodayCents: count,
  activeCarts: count,
  jobsReady: count,
  jobsLocked: count,
});
export type DashboardSnapshot = z.infer<typeof dashboardSnapshot>;

/** Typed SQL on the entities' tables, in `em`'s transaction when it has one. */
const kysely = (em: EntityManager) => em.getKysely<Database>();

/** `interval '<n> minutes'` of one of the constants above: SQL text, as no caller's value goes through it. */
const minutes = (n: number) => sql`interval ${sql.lit(`${n} minutes`)}`;

interface SnapshotRow {
  at: Date | string;
  // count() and sum() of bigint come back as strings.
  orders_last_minute: string | number;
  orders_per_minute: (string | number)[] | string;
  revenue_today_cents: string | number;
  active_carts: string | number;
  jobs_ready: string | number;
  jobs_locked: string | number;
}

const SNAPSHOT_QUERY = sql<SnapshotRow>`
with clock as (
  select now() as at, date_trunc('minute', now()) as minute, date_trunc('day', now(), 'UTC') as day
)
select c.at,
  (select count(*) from store_order o where o.created_at > c.at - interval '1 minute' and o.created_at <= c.at)
    as orders_last_minute,
  (select jsonb_agg(coalesce(n.orders, 0) order by m.minute)
   from generate_series(c.minute - ${minutes(DASHBOARD_MINUTES - 1)}, c.minute, interval '1 minute') as m(minute)
   left join (
     select date_trunc('minute', o.created_at) as minute, count(*) as orders
     from store_order o
     where o.created_at >= c.minute - ${minutes(DASHBOARD_MINUTES - 1)} and o.created_at <= c.at
     group by 1
   ) n on n.minute = m.minute) as orders_per_minute,
  (select coalesce(sum(o.total_cents), 0) from store_order o
   where o.created_at >= c.day and o.created_at <= c.at and o.status in ('paid', 'shipped', 'delivered'))
    as revenue_today_cents,
  (select count(distinct ci.user_id) from cart_item ci
   where ci.updated_at > c.at - ${minutes(ACTIVE_CART_MINUTES)}) as active_carts,
  (select count(*) from graphile_worker.jobs j
   where j.locked_at is null and j.run_at <= c.at and j.attempts < j.max_attempts) as jobs_ready,
  (select count(*) from graphile_worker.jobs j where j.locked_at is not null) as jobs_locked
from clock c`;

/**
 * Reads the figures once. The range scans use `store_order_created_at_idx`; carts and jobs are small,
 * live tables. Meant to be shared: one call per API process per tick (see `createDashboardFeed`).
 */
export async function readDashboardSnapshot(em: EntityManager): Promise<DashboardSnapshot> {
  const {
    rows: [row],
  } = await SNAPSHOT_QUERY.execute(kysely(em));
  if (!row) throw new Error('the dashboard query returned no row');
  const perMinute =
    typeof row.orders_per_minute === 'string' ? JSON.parse(row.orders_per_minute) : row.orders_per_minute;
  return dashboardSnapshot.parse({
    at: rowDate(em, row.at),
    ordersLastMinute: Number(row.orders_last_minute),
    ordersPerMinute: (perMinute as (string | number)[]).map(Number),
    revenueTodayCents: Number(row.revenue_today_cents),
    activeCarts: Number(row.active_carts),
    jobsReady: Number(row.jobs_ready),
    jobsLocked: Number(row.jobs_locked),
  });
}
