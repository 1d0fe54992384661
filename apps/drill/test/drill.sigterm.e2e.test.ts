/** `pnpm drill sigterm`: the API stopped with SIGTERM under load and started again, twice. */
import { inject, it } from 'vitest';
import { sigtermDrill } from '../src/drills.ts';
import { expectPassed } from './expectPassed.ts';

it('answers every request in flight at SIGTERM, including committed checkouts, then exits 0', {
  timeout: 300_000,
}, async () => {
  const report = await sigtermDrill(inject('adminUrl'), { clients: 16, log: () => {}, cycles: 2 });
  expectPassed(report, {
    'requests in flight at SIGTERM': 2,
    'checkouts in flight at SIGTERM answered 200': 1,
    'checkouts ordered': 50,
  });
});
