/** Checkout idempotency keys past their retention are deleted, the others kept, and the count is exact. */
import { purgeCheckoutKeys } from '@keelson/orders';
import { createUsers, sql, useTestOrm } from '@keelson/testing';
import { describe, expect, it } from 'vitest';

describe('purgeCheckoutKeys', () => {
  const t = useTestOrm();

  it('deletes expired keys only and says how many', async () => {
    const [user] = await createUsers(t.db.url, 1, { prefix: 'purge' });
    await sql(
      t.db.url,
      `insert into checkout_idempotency_key (id, user_id, key, cart_hash, token_hash, created_at, expires_at)
       select gen_random_uuid(), $1, 'key-' || n, '', '', now() - interval '2 days',
              case when n <= 3 then now() - interval '1 minute' else now() + interval '1 day' end
       from generate_series(1, 5) as n`,
      [user!.id],
    );
    expect(await purgeCheckoutKeys(t.orm.em.fork())).toBe(3);
    const left = await sql<{ key: string }>(t.db.url, 'select key from checkout_idempotency_key order by key');
    expect(left.map((r) => r.key)).toEqual(['key-4', 'key-5']);
    expect(await purgeCheckoutKeys(t.orm.em.fork())).toBe(0);
  });
});
