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
import { type Database, rowDate } from '@keelson/db';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { funnelSteps } from './schemas.ts';

/** Typed SQL on the entities' tables, in `em`'s transaction when it has one. */
const kysely = (em: EntityManager) => em.getKysely<Database>();

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
  const late = await kysely(em)
    .selectFrom('analytics_event')
    .select(sql<string | Date>`date_trunc('hour', occurred_at, 'UTC')`.as('hour'))
    .distinct()
    .where('received_at', '>=', since)
    .where('occurred_at', '<', new Date(end))
    .execute();
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
    const db = kysely(tx);
    await sql`select pg_advisory_xact_lock(hashtext(${LOCK_KEY}))`.execute(db);
    for (const hour of hours) {
      const end = new Date(hour.getTime() + HOUR);
      await db.deleteFrom('analytics_hourly').where('hour', '=', hour).execute();
      await db.deleteFrom('analytics_funnel_hourly').where('hour', '=', hour).execute();
      // The hour is cast: a parameter in an INSERT's SELECT list is not typed by the target column.
      await db
        .insertInto('analytics_hourly')
        .columns(['hour', 'name', 'product_id', 'count'])
        .expression(
          db
            .selectFrom('analytics_event')
            .select((eb) => [
              eb.cast<Date>(eb.val(hour), 'timestamptz').as('hour'),
              'name',
              'product_id',
              eb.fn.countAll().as('count'),
            ])
            .where('occurred_at', '>=', hour)
            .where('occurred_at', '<', end)
            .groupBy(['name', 'product_id']),
        )
        .execute();
      // The funnel's columns are named after its steps.
      await db
        .insertInto('analytics_funnel_hourly')
        .columns(['hour', ...funnelSteps])
        .expression(
          db
            .selectFrom('analytics_event')
            .select((eb) => [
              eb.cast<Date>(eb.val(hour), 'timestamptz').as('hour'),
              ...funnelSteps.map((step) => eb.fn.countAll().filterWhere('name', '=', step).as(step)),
            ])
            .where('occurred_at', '>=', hour)
            .where('occurred_at', '<', end)
            .where('name', 'in', [...funnelSteps])
            .having((eb) => eb.fn.countAll(), '>', 0),
        )
        .execute();
    }
  });
  return { hours: hours.length };
}
