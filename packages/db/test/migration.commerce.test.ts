/**
 * The commerce migration on a database that already has products: it replaces `active` with
 * `archived_at` without losing which products were hidden, recreates the search index, and records the
 * stock on hand as each product's initial adjustment. Its `down` restores the previous shape.
 */
import { dumpSchema, uuidv7 } from '@keelson/db';
import { sql, useTestOrm } from '@keelson/testing/database';
import { describe, expect, it } from 'vitest';

const BEFORE = 'Migration20261121055040_oidc_identities';

describe('commerce migration', () => {
  const t = useTestOrm();

  it('keeps archived state and stock when migrating existing products, and reverts cleanly', async () => {
    const migrated = await dumpSchema(t.db.url);
    await sql(t.db.url, 'delete from product');
    await t.orm.migrator.down({ to: BEFORE });
    const [hidden, shown] = [uuidv7(), uuidv7()];
    await sql(
      t.db.url,
      `insert into product (id, slug, name, price_cents, stock, active, created_at, updated_at)
       values ($1, 'hidden', 'Hidden Lamp', 100, 3, false, now(), now()), ($2, 'shown', 'Shown Lamp', 100, 0, true, now(), now())`,
      [hidden, shown],
    );

    await t.orm.migrator.up();
    const rows = await sql<{ slug: string; archived: boolean; category: string; image_urls: unknown }>(
      t.db.url,
      'select slug, archived_at is not null as archived, category, image_urls from product order by slug',
    );
    expect(rows).toEqual([
      { slug: 'hidden', archived: true, category: 'general', image_urls: [] },
      { slug: 'shown', archived: false, category: 'general', image_urls: [] },
    ]);
    expect(await sql(t.db.url, 'select product_id, delta, reason from stock_adjustment')).toEqual([
      { product_id: hidden, delta: 3, reason: 'initial' },
    ]);
    // Searchable again through the recreated index's column.
    const found = await sql(t.db.url, `select slug from product where search_vector @@ to_tsquery('simple', 'shown')`);
    expect(found).toEqual([{ slug: 'shown' }]);
    expect(await dumpSchema(t.db.url)).toBe(migrated);
  });
});
