import { existsSync } from 'node:fs';
import { query } from '../src/stack.ts';

/**
 * The PostgreSQL the restart drill stops and starts: the same major version as the run's server. With
 * TEST_DATABASE_URL pointing at a system PostgreSQL, its installation's binaries (it cannot stop the
 * shared server itself: other test files use it); otherwise the packaged one.
 */
export async function restartableBinDir(adminUrl: string, usingTestDatabaseUrl: boolean): Promise<string | undefined> {
  if (!usingTestDatabaseUrl) return undefined;
  const [row] = await query<{ v: string }>(adminUrl, "select current_setting('server_version_num') as v");
  const major = Math.floor(Number(row?.v) / 10_000);
  const dir = `/usr/lib/postgresql/${major}/bin`;
  if (!existsSync(`${dir}/postgres`)) {
    throw new Error(`no PostgreSQL ${major} binaries in ${dir}: the restart drill cannot run a server of that version`);
  }
  return dir;
}
