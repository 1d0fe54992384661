import { readFile } from 'node:fs/promises';
import { crontab, tasks } from '@keelson/jobs';
import { describe, expect, it } from 'vitest';

describe('docs/jobs.md task table', () => {
  it('documents every task, and the schedule of every cron entry', async () => {
    const readme = await readFile(new URL('../../../docs/jobs.md', import.meta.url), 'utf8');
    for (const name of Object.keys(tasks)) expect(readme, name).toMatch(new RegExp(`^\\| \`${name}\` +\\|`, 'm'));
    for (const line of crontab.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'))) {
      const [m, h, dom, mon, dow, task] = line.trim().split(/\s+/);
      const row = new RegExp(
        `^\\| \`${task}\` +\\|[^\\n]*\`${[m, h, dom, mon, dow].join(' ').replaceAll('*', '\\*')}\``,
        'm',
      );
      expect(readme, `${task}'s schedule`).toMatch(row);
    }
  });
});
