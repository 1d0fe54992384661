/** `pnpm drill restart`: the PostgreSQL server stopped for 5 s under load, then started again. */
import { inject, it } from 'vitest';
import { restartDrill } from '../src/drills.ts';
import { expectPassed } from './expectPassed.ts';
import { restartableBinDir } from './serverFor.ts';

it('answers /readyz 503 within a second while PostgreSQL is down, and recovers by itself after', {
  timeout: 300_000,
}, async () => {
  // biome-ignore lint/style/noProcessEnv: which server the run uses decides which one the drill restarts.
  const binDir = await restartableBinDir(inject('adminUrl'), Boolean(process.env.TEST_DATABASE_URL));
  const report = await restartDrill({ clients: 16, log: () => {}, downMs: 5_000, binDir });
  expectPassed(report, { '/readyz 503 while down': 10, 'checkouts ordered': 50 });
});
