import { claim, ipThrottleKey, throttleRules } from '@keelson/auth';
import type { Database } from '@keelson/db';
import { enqueue } from '@keelson/jobs';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import type { TrackInput, TrackResult } from './schemas.ts';

/** Typed SQL on the entities' tables, in `em`'s transaction when it has one. */
const kysely = (em: EntityManager) => em.getKysely<Database>();

/**
 * Appends a batch of client events in one insert. The caller's IP pays one throttle unit per event
 * (RATE_LIMITED past 600 a minute); signed-in callers' user id is recorded.
 *
 * An event whose `productId` names no product is dropped and counted in `dropped` rather than failing
 * the batch: one stale id in a client's offline queue should not cost the other 99 events, and storing
 * it without its product would count it under "no product".
 *
 * `product_viewed` events also refresh the products' `viewCount` (one de-duplicated job per product),
 * as `catalog.recordView` does.
 */
export async function trackEvents(
  em: EntityManager,
  opts: { input: TrackInput; userId: string | null; ip: string | null; now?: Date },
): Promise<TrackResult> {
  const now = opts.now ?? new Date();
  const events = opts.input.events;
  await claim(em, { rule: throttleRules.analyticsIp, key: ipThrottleKey(opts.ip), now, cost: events.length });
  const rows = events.map((e) => ({
    name: e.name,
    product_id: e.productId ?? null,
    occurred_at: (e.at ?? now).toISOString(),
    props: e.props ?? null,
  }));
  return em.transactional(async (tx) => {
    // One statement whatever the batch size: the rows travel as one JSON parameter.
    const { rows: inserted } = await sql<{ product_id: string | null; name: string }>`
      insert into analytics_event (name, product_id, user_id, occurred_at, received_at, props)
      select e.name, e.product_id, ${opts.userId}::uuid, e.occurred_at, now(), e.props
      from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
        as e(name text, product_id uuid, occurred_at timestamptz, props jsonb)
      where e.product_id is null or exists (select 1 from product p where p.id = e.product_id)
      returning product_id, name`.execute(kysely(tx));
    const viewed = new Set(
      inserted.filter((r) => r.name === 'product_viewed' && r.product_id).map((r) => r.product_id as string),
    );
    for (const productId of viewed) await enqueue(tx, 'catalog__refresh_view_count', { productId });
    return { accepted: inserted.length, dropped: rows.length - inserted.length };
  });
}
