/**
 * Database commands: `pnpm db:migrate`, `db:migration:create [name]`, `db:seed`, `db:schema:dump`,
 * `db:schema:check`, `db:admin:reset-password [email]`, and `env:example` (writes .env.example). With
 * no DATABASE_URL they use the embedded PostgreSQL (the running one when `pnpm start` runs it).
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { resetPasswordByOperator } from '@keelson/auth';
import { loadConfig } from '@keelson/config';
import { createOrm, dumpSchema, migrate } from '@keelson/db';
import { startEmbeddedPostgres } from '@keelson/db/embedded';
import { createTemplateDatabase } from '@keelson/db/testing';
import { AppError } from '@keelson/errors';
import { explainStartupError } from '@keelson/runtime';
import { repoRoot, resolveDatabase } from './database.ts';
import { envExample } from './envExample.ts';
import { migrateAndSeed } from './setup.ts';

const schemaFile = path.join(repoRoot, 'packages/db/schema.sql');
const log = (line: string) => console.log(line);

/** Runs `fn` against a throw-away embedded server, so schema tooling never touches a real database. */
async function withScratchServer<T>(fn: (adminUrl: string) => Promise<T>): Promise<T> {
  const server = await startEmbeddedPostgres({
    dir: path.join(repoRoot, '.data', `scratch-${randomBytes(4).toString('hex')}`),
    port: 54000 + Math.floor(Math.random() * 1000),
    persistent: false,
  });
  try {
    return await fn(server.adminUrl);
  } finally {
    await server.stop();
  }
}

/** The schema dump of a freshly migrated database. */
function freshSchemaDump(): Promise<string> {
  return withScratchServer(async (adminUrl) => {
    const template = await createTemplateDatabase(adminUrl);
    try {
      return await dumpSchema(template.url);
    } finally {
      await template.drop();
    }
  });
}

async function main(command: string | undefined, args: string[]): Promise<number> {
  const config = loadConfig();
  switch (command) {
    case 'migrate':
    case 'seed': {
      const db = await resolveDatabase(config, log);
      try {
        if (command === 'migrate') {
          const orm = await createOrm({ url: db.url, poolMax: 2 });
          try {
            const { applied } = await migrate(orm, { url: db.url });
            log(applied.length ? `Applied: ${applied.join(', ')}` : 'Nothing to apply.');
          } finally {
            await orm.close(true);
          }
        } else {
          await migrateAndSeed(db.url, config, log);
        }
      } finally {
        await db.stop();
      }
      return 0;
    }
    case 'migration:create':
      // The entities are diffed against the committed snapshot (or, for the very first migration,
      // an empty scratch database), never against a developer's live database.
      await withScratchServer(async (adminUrl) => {
        const orm = await createOrm({ url: adminUrl, poolMax: 2 });
        try {
          const result = await orm.migrator.create(undefined, false, false, args[0]);
          log(result.fileName ? `Created ${result.fileName}` : 'No schema changes: no migration created.');
        } finally {
          await orm.close(true);
        }
      });
      return 0;
    case 'schema:dump':
      await writeFile(schemaFile, await freshSchemaDump());
      log(`Wrote ${path.relative(repoRoot, schemaFile)}`);
      return 0;
    case 'schema:check': {
      const [committed, fresh] = await Promise.all([readFile(schemaFile, 'utf8'), freshSchemaDump()]);
      if (committed === fresh) {
        log('Schema dump matches the migrations.');
        return 0;
      }
      console.error(
        `${path.relative(repoRoot, schemaFile)} differs from the migrated schema. Run \`pnpm db:schema:dump\`.`,
      );
      return 1;
    }
    case 'admin:reset-password': {
      // For a lost first-run password: a new one, shown once; every session of the account ends.
      const email = args[0] ?? config.seed.adminEmail;
      const password = randomBytes(12).toString('base64url');
      const db = await resolveDatabase(config, log);
      const orm = await createOrm({ url: db.url, poolMax: 2 });
      try {
        const { role } = await resetPasswordByOperator(orm.em.fork(), { email, password });
        log(`New password for ${email} (${role}): ${password}  (shown once; its sessions were ended)`);
      } finally {
        await orm.close(true);
        await db.stop();
      }
      return 0;
    }
    case 'env:example': {
      const file = path.join(repoRoot, '.env.example');
      await writeFile(file, envExample(await readFile(path.join(repoRoot, 'docs/configuration.md'), 'utf8')));
      log(`Wrote ${path.relative(repoRoot, file)}`);
      return 0;
    }
    default:
      console.error(
        'usage: cli.ts migrate | seed | migration:create [name] | schema:dump | schema:check | admin:reset-password [email] | env:example',
      );
      return 2;
  }
}

try {
  process.exitCode = await main(process.argv[2], process.argv.slice(3));
} catch (err) {
  const config = loadConfig();
  const line =
    explainStartupError(err, { databaseUrl: config.database.url ?? undefined }) ??
    (err instanceof AppError ? err.message : undefined);
  if (!line) throw err;
  console.error(line);
  process.exitCode = 1;
}
