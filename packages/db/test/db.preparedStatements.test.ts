/**
 * Queries with bind parameters go as named prepared statements on the ORM's connections (one name per
 * text, reused on the same connection), and as unnamed ones with DATABASE_PREPARED_STATEMENTS=false.
 * Queries without parameters (MikroORM's own) are never named.
 */
import { createOrm, type Database, type MikroORM } from '@keelson/db';
import { testDatabase } from '@keelson/testing/database';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';

describe('prepared statements', () => {
  const orms: MikroORM[] = [];
  afterAll(async () => {
    for (const orm of orms) await orm.close(true);
  });

  const prepared = async (orm: MikroORM) => {
    // One connection, so the session whose statements are listed is the one that ran the queries.
    const { rows } = await sql<{ name: string; statement: string }>`
      select name, statement from pg_prepared_statements where name like 'k\\_%' order by name`.execute(
      orm.em.getKysely<Database>(),
    );
    return rows;
  };
  const run = async (orm: MikroORM, slug: string) =>
    orm.em.fork().getKysely<Database>().selectFrom('product').select('id').where('slug', '=', slug).execute();

  it('names each parameterised text once per connection, and reuses it', async () => {
    await using db = await testDatabase();
    const orm = await createOrm({ url: db.url, poolMax: 1 });
    orms.push(orm);
    await run(orm, 'a');
    await run(orm, 'b');
    await orm.em.getConnection().execute('select 1');
    const statements = await prepared(orm);
    // The product query, and the listing query itself (it has a parameter too).
    expect(statements.filter((s) => s.statement.includes('from "product"'))).toHaveLength(1);
    expect(statements.every((s) => !/select 1/.test(s.statement))).toBe(true);
    await orm.close(true);
  });

  it('sends nothing named when switched off', async () => {
    await using db = await testDatabase();
    const orm = await createOrm({ url: db.url, poolMax: 1, preparedStatements: false });
    orms.push(orm);
    await run(orm, 'a');
    expect(await prepared(orm)).toEqual([]);
    await orm.close(true);
  });
});
