import type { EntityManager } from '@mikro-orm/postgresql';
import type { Compilable, CompiledQuery, Kysely } from 'kysely';
import type { Database } from './orm.ts';

/**
 * A Kysely query built and compiled once, then run with each call's parameters: for the hottest reads,
 * where building and compiling the same query on every call cost about 20–30 µs of a 100 µs read
 * (measured on `catalog.get`'s read). `build` makes the query with placeholder values, one per entry of
 * the `parameters` later passed, in the order Kysely binds them (the order they appear in the query).
 * Runs in `em`'s transaction when it has one, as `em.getKysely()` does.
 */
export function compiledOnce<Row, Parameters extends readonly unknown[]>(
  build: (db: Kysely<Database>) => Compilable<Row>,
): (em: EntityManager, parameters: Parameters) => Promise<Row[]> {
  let compiled: CompiledQuery<Row> | null = null;
  return async (em, parameters) => {
    const db = em.getKysely<Database>();
    compiled ??= build(db).compile();
    if (compiled.parameters.length !== parameters.length) {
      throw new Error(`compiledOnce: the query binds ${compiled.parameters.length} values, not ${parameters.length}`);
    }
    return (await db.executeQuery<Row>({ ...compiled, parameters })).rows;
  };
}
