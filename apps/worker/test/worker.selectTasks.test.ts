import { ConfigError } from '@keelson/config';
import { tasks } from '@keelson/jobs';
import { selectTasks } from '@keelson/worker';
import { describe, expect, it } from 'vitest';

describe('selectTasks (WORKER_TASKS)', () => {
  it('runs every task by default', () => {
    expect(selectTasks(null).sort()).toEqual(Object.keys(tasks).sort());
  });

  it('runs only the listed tasks', () => {
    expect(selectTasks(['email__order_status', 'email__password_reset'])).toEqual([
      'email__order_status',
      'email__password_reset',
    ]);
  });

  it('stops start-up on an unknown task, naming it', () => {
    expect(() => selectTasks(['email__order_status', 'email__order_stats'])).toThrow(ConfigError);
    expect(() => selectTasks(['email__order_stats'])).toThrow(/WORKER_TASKS: unknown task\(s\) email__order_stats/);
  });
});
