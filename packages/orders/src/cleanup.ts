import type { EntityManager } from '@mikro-orm/postgresql';

/** Deletes checkout idempotency keys past their retention; returns how many. */
export async function purgeCheckoutKeys(em: EntityManager): Promise<number> {
  const rows = await em
    .getConnection()
    .execute<{ n: number }[]>(
      'with gone as (delete from checkout_idempotency_key where expires_at < now() returning 1) select count(*)::int as n from gone',
    );
  return rows[0]?.n ?? 0;
}
