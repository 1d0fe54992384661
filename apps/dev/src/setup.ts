import { randomBytes } from 'node:crypto';
import { hashPassword } from '@keelson/auth';
import type { Config } from '@keelson/config';
import { createOrm, migrate, needsAdmin, seed } from '@keelson/db';

/**
 * Migrates, then seeds what is missing. A generated admin password is printed once and never stored
 * anywhere but as its argon2id hash.
 */
export async function migrateAndSeed(url: string, config: Config, log: (line: string) => void): Promise<void> {
  const orm = await createOrm({ url, poolMax: 2 });
  try {
    log('migrating...');
    const { applied } = await migrate(orm, { url });
    log(
      applied.length
        ? `Applied ${applied.length} migrations (${applied.at(-1)} the latest).`
        : 'Database schema is up to date.',
    );
    const em = orm.em.fork();
    let generatedPassword: string | undefined;
    let admin: { email: string; passwordHash: string } | undefined;
    if (await needsAdmin(em)) {
      generatedPassword = config.seed.adminPassword ? undefined : randomBytes(12).toString('base64url');
      const password = config.seed.adminPassword ?? generatedPassword ?? '';
      admin = { email: config.seed.adminEmail, passwordHash: await hashPassword(password) };
    }
    const result = await seed(em, { admin });
    if (result.adminCreated) {
      log(
        `Created admin ${config.seed.adminEmail}${generatedPassword ? ` with password: ${generatedPassword}  (shown once; lost it? pnpm db:admin:reset-password)` : ''}`,
      );
    }
    if (result.productsCreated) log(`Created ${result.productsCreated} demo products.`);
  } finally {
    await orm.close(true);
  }
}
