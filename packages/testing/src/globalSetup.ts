/**
 * Runs once per `vitest run`: finds a PostgreSQL server (TEST_DATABASE_URL, or a throw-away embedded one)
 * and migrates a template database that every test file clones; builds the web app when stale.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type EmbeddedDatabase, startEmbeddedPostgres } from '@keelson/db/embedded';
import { createTemplateDatabase } from '@keelson/db/testing';
import { ensureWebBuild } from '@keelson/web/build';
import type { TestProject } from 'vitest/node';
import { freePort } from './processes.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Maintenance-database URL of the server the tests use. */
    adminUrl: string;
    /** Name of the migrated template database. */
    templateDatabase: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let embedded: EmbeddedDatabase | undefined;
  let tempDir: string | undefined;
  let adminUrl = process.env.TEST_DATABASE_URL;
  if (!adminUrl) {
    // mkdtemp makes the folder 0700; opened up so the unprivileged `postgres` user (when running as root) can reach it.
    const dir = await mkdtemp(path.join(tmpdir(), 'keelson-test-pg-'));
    tempDir = dir;
    await chmod(dir, 0o755);
    try {
      embedded = await startEmbeddedPostgres({
        dir: path.join(dir, 'data'),
        port: await freePort(),
        persistent: false,
      });
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
    adminUrl = embedded.adminUrl;
  }
  const template = await createTemplateDatabase(adminUrl);
  // The app the API serves, for the browser tests: built once here when its sources changed.
  await ensureWebBuild({ log: (line) => console.log(`[keelson] ${line}`) });
  project.provide('adminUrl', adminUrl);
  project.provide('templateDatabase', template.name);
  return async () => {
    await template.drop();
    await embedded?.stop();
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
  };
}
