/**
 * Catalogue change announcements. Every write that changes what a product read returns (admin edits,
 * restocks, stock taken or returned by orders) calls `notifyProductsChanged` inside its transaction;
 * PostgreSQL delivers the NOTIFY to every listening API process only when that transaction commits,
 * so no process drops a cached product for a change that rolled back, and none misses one that committed.
 */
import type { EntityManager } from '@mikro-orm/postgresql';

/** The channel every API process LISTENs on; the payload is a product id, or `*` for "everything". */
export const CATALOG_CHANNEL = 'keelson_catalog';

export async function notifyProductsChanged(em: EntityManager, productIds: readonly string[]): Promise<void> {
  if (!productIds.length) return;
  // One NOTIFY per product (payloads are capped at 8000 bytes, and PostgreSQL folds duplicates within
  // a transaction). Many products at once are announced as `*`, one message instead of hundreds.
  const ids = productIds.length > 50 ? ['*'] : [...new Set(productIds)];
  // The ids travel as one JSON text parameter: MikroORM expands an array parameter into a list of
  // placeholders, which `?::text[]` would receive as a single malformed value.
  await em
    .getConnection()
    .execute(
      'select pg_notify(?, id) from jsonb_array_elements_text(?::jsonb) as id',
      [CATALOG_CHANNEL, JSON.stringify(ids)],
      'all',
      em.getTransactionContext(),
    );
}
