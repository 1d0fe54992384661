/** A query compiled once runs with each call's parameters, in the caller's transaction when it has one. */
import { compiledOnce, type Database } from '@keelson/db';
import { sql, useTestOrm } from '@keelson/testing/database';
import { describe, expect, it } from 'vitest';

describe('compiledOnce', () => {
  const t = useTestOrm();
  const bySlug = compiledOnce<{ slug: string; stock: number }, [string]>((db) =>
    db.selectFrom('product').select(['slug', 'stock']).where('slug', '=', '').where('archived_at', 'is', null),
  );

  it('answers each call for its own parameters, sees the transaction it runs in, and checks the count', async () => {
    await sql(
      t.db.url,
      `insert into product (id, slug, name, description, category, image_urls, price_cents, currency, stock,
         view_count, created_at, updated_at)
       select gen_random_uuid(), s, s, '', 'test', '{}', 100, 'USD', n, 0, now(), now()
       from unnest(array['alpha', 'beta']) with ordinality as x(s, n)`,
    );
    expect(await bySlug(t.orm.em.fork(), ['alpha'])).toEqual([{ slug: 'alpha', stock: 1 }]);
    expect(await bySlug(t.orm.em.fork(), ['beta'])).toEqual([{ slug: 'beta', stock: 2 }]);
    expect(await bySlug(t.orm.em.fork(), ['gamma'])).toEqual([]);
    await t.orm.em.fork().transactional(async (tx) => {
      await tx.getKysely<Database>().updateTable('product').set({ stock: 40 }).where('slug', '=', 'beta').execute();
      // Uncommitted: only this transaction sees it.
      expect(await bySlug(tx, ['beta'])).toEqual([{ slug: 'beta', stock: 40 }]);
      const [outside] = await sql<{ stock: number }>(t.db.url, `select stock from product where slug = 'beta'`);
      expect(outside?.stock).toBe(2);
    });
    const wrong = compiledOnce<{ slug: string }, [string, string]>((db) =>
      db.selectFrom('product').select('slug').where('slug', '=', ''),
    );
    await expect(wrong(t.orm.em.fork(), ['a', 'b'])).rejects.toThrow(/binds 1 values, not 2/);
  });
});
