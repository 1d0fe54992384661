import type { Database } from '@keelson/db';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';

/** Deletes checkout idempotency keys past their retention; returns how many. */
export async function purgeCheckoutKeys(em: EntityManager): Promise<number> {
  const { numDeletedRows } = await em
    .getKysely<Database>()
    .deleteFrom('checkout_idempotency_key')
    .where('expires_at', '<', sql<Date>`now()`)
    .executeTakeFirst();
  return Number(numDeletedRows);
}
