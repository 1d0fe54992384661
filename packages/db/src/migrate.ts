import type { MikroORM } from '@mikro-orm/postgresql';
import { Logger, runMigrations as runWorkerMigrations } from 'graphile-worker';
import { sql } from 'kysely';

// graphile-worker logs each migration it applies; Keelson reports what it applied itself.
const silentLogger = new Logger(() => () => {});

/** graphile-worker's schema; `enqueue` and the worker both address it by this name. */
export const WORKER_SCHEMA = 'graphile_worker';

export interface MigrateResult {
  applied: string[];
}

/**
 * Brings a database fully up to date: Keelson's committed migrations, then graphile-worker's own schema
 * (the API enqueues jobs with `graphile_worker.add_job`, so it must exist before the first request,
 * not only once a worker has started).
 */
export async function migrate(orm: MikroORM, opts: { url: string }): Promise<MigrateResult> {
  const applied = await orm.migrator.up();
  await runWorkerMigrations({
    connectionString: opts.url,
    schema: WORKER_SCHEMA,
    logger: silentLogger,
  });
  return { applied: applied.map((m) => m.name) };
}

export interface SchemaStatus {
  /** Keelson migrations not yet applied. */
  pending: string[];
  /** Whether graphile-worker's schema is installed. */
  workerSchema: boolean;
}

export async function schemaStatus(orm: MikroORM): Promise<SchemaStatus> {
  const [pending, rows] = await Promise.all([
    orm.migrator.getPending(),
    sql<{ present: boolean }>`select to_regclass(${`${WORKER_SCHEMA}.migrations`}) is not null as present`.execute(
      orm.em.getKysely(),
    ),
  ]);
  return { pending: pending.map((m) => m.name), workerSchema: rows.rows[0]?.present === true };
}
