/**
 * Catalogue change announcements. Every write that changes what a product read returns (admin edits,
 * restocks, stock taken or returned by orders) calls `notifyProductsChanged` inside its transaction;
 * PostgreSQL delivers the NOTIFY to every listening API process only when that transaction commits,
 * so no process drops a cached product for a change that rolled back, and none misses one that committed.
 */
import type { Database } from '@keelson/db';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';

/** The channel every API process LISTENs on; the payload is a product id, or `*` for "everything". */
export const CATALOG_CHANNEL = 'keelson_catalog';

/** Typed SQL on the entities' tables, in `em`'s transaction when it has one. */
const kysely = (em: EntityManager) => em.getKysely<Database>();

export async function notifyProductsChanged(em: EntityManager, productIds: readonly string[]): Promise<void> {
  if (!productIds.length) return;
  // One NOTIFY per product (payloads are capped at 8000 bytes, and PostgreSQL folds duplicates within
  // a transaction). Many products at once are announced as `*`, one message instead of hundreds.
  const ids = productIds.length > 50 ? ['*'] : [...new Set(productIds)];
  // The ids travel as one JSON text parameter: one statement and one plan whatever their number. Sent
  // on `em`'s transaction, so the NOTIFY is delivered when the caller's change commits, never before.
  await sql`select pg_notify(${CATALOG_CHANNEL}, id) from jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb) as id`.execute(
    kysely(em),
  );
}
