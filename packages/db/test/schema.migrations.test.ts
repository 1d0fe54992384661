import { readFileSync } from 'node:fs';
import { dumpSchema, schemaStatus, uuidv7 } from '@keelson/db';
import { sql, useTestOrm } from '@keelson/testing/database';
import { describe, expect, it } from 'vitest';

const committed = readFileSync(new URL('../schema.sql', import.meta.url), 'utf8');

describe('migrations', () => {
  const t = useTestOrm();

  it('produce exactly the committed schema dump (run `pnpm db:schema:dump` after adding one)', async () => {
    expect(await dumpSchema(t.db.url)).toBe(committed);
  });

  it('leave nothing pending, graphile-worker included', async () => {
    expect(await schemaStatus(t.orm)).toEqual({ pending: [], workerSchema: true });
  });

  it('match the entities: the ORM would change nothing (run `pnpm db:migration:create` otherwise)', async () => {
    const diff = await t.orm.schema.getUpdateSchemaSQL({ wrap: false });
    expect(diff.trim()).toBe('');
  });

  it('enforce the money and stock invariants in the database itself', async () => {
    const insert = (price: number, stock: number) =>
      sql(
        t.db.url,
        `insert into product (id, slug, name, price_cents, stock, created_at, updated_at) values ($1, $2, 'x', $3, $4, now(), now())`,
        [uuidv7(), `s-${price}-${stock}`, price, stock],
      );
    await expect(insert(-1, 0)).rejects.toThrow(/product_price_cents_check/);
    await expect(insert(0, -1)).rejects.toThrow(/product_stock_check/);
    await expect(insert(0, 0)).resolves.toBeDefined();
  });
});

describe('uuidv7', () => {
  it('is a version-7 RFC 9562 UUID whose first 48 bits are the time', () => {
    const id = uuidv7(0x0123456789ab);
    expect(id).toMatch(/^01234567-89ab-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('sorts by creation time across milliseconds', () => {
    const ids = [uuidv7(1000), uuidv7(2000), uuidv7(3000)];
    expect([...ids].sort()).toEqual(ids);
  });
});
