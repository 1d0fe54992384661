/**
 * The hourly roll-up of `analytics_event` into `analytics_hourly` (per hour × name × product) and
 * `analytics_funnel_hourly` (the funnel's raw counts per hour).
 *
 * Idempotent: each hour is deleted and re-inserted from the raw events in one transaction, so running
 * an hour again gives the same rows. Runs are serialised by an advisory lock, so two overlapping runs
 * (a backfill and the regular one) cannot both insert an hour.
 *
 * Which hours a run at `at` rolls up: the hour that just ended, the `REROLL_HOURS` before it (events
 * that arrived a little late), and every hour holding events *received* since then, however old they
 * are (up to the 7 days `analytics.track` accepts). The hour in progress is never rolled up, so the
 * summary lags by up to an hour and a few minutes.
 */
import { rowDate } from '@keelson/db';
import type { EntityManager } from '@mikro-orm/postgresql';
import { funnelSteps } from './schemas.ts';

const HOUR = 60 * 60 * 1000;
/** Hours before the last complete one that each run rebuilds anyway. */
export const REROLL_HOURS = 2;
const LOCK_KEY = 'analytics__rollup';

export function startOfHour(at: Date): Date {
  return new Date(Math.floor(at.getTime() / HOUR) * HOUR);
}

/** The hours a run at `at` rolls up, oldest first. */
export async function hoursToRoll(em: EntityManager, at: Date): Promise<Date[]> {
  const end = startOfHour(at).getTime();
  const since = new Date(end - (1 + REROLL_HOURS) * HOUR);
  const hours = new Set<number>();
  for (let i = 1; i <= 1 + REROLL_HOURS; i++) hours.add(end - i * HOUR);
  // No upper bound on received_at: a run that is late (or backfilled) also takes what arrived since.
  const late = await em.getConnection().execute<{ hour: string | Date }[]>(
    `select distinct date_trunc('hour', occurred_at, 'UTC') as hour from analytics_event
     where received_at >= ? and occurred_at < ?`,
    [since, new Date(end)],
  );
  for (const r of late) hours.add(rowDate(em, r.hour).getTime());
  return [...hours].sort((a, b) => a - b).map((t) => new Date(t));
}

/** Every hour starting in `[from, to)`: a manual re-roll (after an outage longer than the backfill). */
export function hoursBetween(from: Date, to: Date): Date[] {
  const hours: Date[] = [];
  for (let t = startOfHour(from).getTime(); t < to.getTime(); t += HOUR) hours.push(new Date(t));
  return hours;
}

/** Rebuilds the given hours from the raw events, all in one transaction. */
export async function rollupHours(em: EntityManager, hours: readonly Date[]): Promise<{ hours: number }> {
  await em.transactional(async (tx) => {
    const conn = tx.getConnection();
    const ctx = tx.getTransactionContext();
    const run = (sql: string, params: unknown[]) => conn.execute(sql, params, 'run', ctx);
    await conn.execute('select pg_advisory_xact_lock(hashtext(?))', [LOCK_KEY], 'all', ctx);
    const [viewed, cart, started, completed] = funnelSteps;
    for (const hour of hours) {
      const end = new Date(hour.getTime() + HOUR);
      await run('delete from analytics_hourly where hour = ?', [hour]);
      await run('delete from analytics_funnel_hourly where hour = ?', [hour]);
      await run(
        `insert into analytics_hourly (hour, name, product_id, count)
         select ?, name, product_id, count(*) from analytics_event
         where occurred_at >= ? and occurred_at < ? group by name, product_id`,
        [hour, hour, end],
      );
      await run(
        `insert into analytics_funnel_hourly (hour, product_viewed, add_to_cart, checkout_started, checkout_completed)
         select ?, count(*) filter (where name = ?), count(*) filter (where name = ?),
           count(*) filter (where name = ?), count(*) filter (where name = ?)
         from analytics_event where occurred_at >= ? and occurred_at < ? and name in (?, ?, ?, ?)
         having count(*) > 0`,
        [hour, viewed, cart, started, completed, hour, end, viewed, cart, started, completed],
      );
    }
  });
  return { hours: hours.length };
}
