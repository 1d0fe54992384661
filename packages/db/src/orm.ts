import { fileURLToPath } from 'node:url';
import { Migrator } from '@mikro-orm/migrations';
import { defineConfig, MikroORM, type Options } from '@mikro-orm/postgresql';
import type { InferKyselyDB } from '@mikro-orm/sql';
import { entities } from './entities/index.ts';
import { pgPoolConfig } from './pool.ts';

export const migrationsPath = fileURLToPath(new URL('./migrations', import.meta.url));

export interface OrmOptions {
  url: string;
  poolMax?: number;
  /** DATABASE_ACQUIRE_TIMEOUT_MS: how long a query waits for a connection. Default: 5 s. */
  acquireTimeoutMs?: number;
  /** DATABASE_QUERY_TIMEOUT_MS: how long a query may go unanswered. Default: none. */
  queryTimeoutMs?: number;
  /** DATABASE_PREPARED_STATEMENTS: queries with bind parameters as named prepared statements. Default: true. */
  preparedStatements?: boolean;
  /** `application_name` of its connections. Default: `keelson`. */
  applicationName?: string;
  /** Log every SQL statement (MikroORM's `debug`). */
  debug?: boolean;
  /** A `pino`-style logger; MikroORM's own messages go to it at debug level. */
  logger?: (message: string) => void;
}

/** MikroORM options for Keelson. Schema changes only ever come from committed migrations. */
export function ormOptions(opts: OrmOptions): Options {
  return defineConfig({
    clientUrl: opts.url,
    entities,
    extensions: [Migrator],
    pool: { min: 0, max: opts.poolMax ?? 10 },
    // Passed through to pg.Pool. A query that cannot get a connection in time fails (SERVICE_UNAVAILABLE
    // in the API) rather than queueing forever behind a database that is gone.
    driverOptions: pgPoolConfig({
      applicationName: opts.applicationName ?? 'keelson',
      acquireTimeoutMs: opts.acquireTimeoutMs ?? 5_000,
      queryTimeoutMs: opts.queryTimeoutMs,
      preparedStatements: opts.preparedStatements,
    }),
    // Every request and job forks its own EntityManager; touching the global one is a bug.
    allowGlobalContext: false,
    debug: opts.debug ?? false,
    ...(opts.logger ? { logger: opts.logger } : {}),
    // graphile-worker owns the `graphile_worker` schema and migrates it itself. MikroORM matches these
    // patterns against bare table names, so they list graphile-worker's: `_private_*`, `migrations`, `jobs`.
    schemaGenerator: { skipTables: [/^_private_/, 'migrations'], skipViews: ['jobs'] },
    migrations: {
      path: migrationsPath,
      pathTs: migrationsPath,
      glob: '!(*.d).ts',
      emit: 'ts',
      silent: true,
      transactional: true,
      allOrNothing: true,
      // The snapshot is what `db:migration:create` diffs against; only that command rewrites it.
      snapshotOnMigrate: false,
      // One name whatever the database is called (migration:create runs on a scratch server).
      snapshotName: '.snapshot-keelson',
      fileName: (timestamp, name) => `Migration${timestamp}${name ? `_${name}` : ''}`,
    },
  });
}

/**
 * Every table and column as the entities declare them, for hand-written SQL through Kysely:
 * `em.getKysely<Database>()`, bound to the EntityManager's transaction. Timestamps come back as text
 * whatever this says (MikroORM's connection): read them with `rowDate`.
 */
export type Database = InferKyselyDB<(typeof entities)[number]>;

export function createOrm(opts: OrmOptions): Promise<MikroORM> {
  return MikroORM.init(ormOptions(opts));
}

export type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
