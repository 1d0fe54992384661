/** `pnpm drill kill`: every app connection terminated every 3 s for a minute, under load. */
import { inject, it } from 'vitest';
import { killDrill } from '../src/drills.ts';
import { expectPassed } from './expectPassed.ts';

it('survives a minute of pg_terminate_backend on every connection: nothing hung, lost or doubled', {
  timeout: 300_000,
}, async () => {
  const report = await killDrill(inject('adminUrl'), {
    clients: 16,
    log: () => {},
    durationMs: 60_000,
    intervalMs: 3_000,
  });
  expectPassed(report, {
    'kill rounds': 20,
    'connections terminated': 20,
    'checkouts ordered': 100,
    'answered 503': 1,
  });
});
