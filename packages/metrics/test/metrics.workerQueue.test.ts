import { describe, expect, it } from 'vitest';
import { createWorkerMetrics } from '../src/index.ts';

const row = { task: 'payment__capture', queued: 2, oldest_queued_age_seconds: 12.5, locked: 1, failed_permanently: 0 };

describe('worker queue gauges', () => {
  it('answer every gauge of a scrape, and scrapes within the cache time, from one query', async () => {
    let clock = 0;
    let queries = 0;
    const metrics = createWorkerMetrics({
      queryQueue: async () => {
        queries++;
        return [row];
      },
      knownTasks: ['payment__capture', 'auth__cleanup'],
      queueCacheMs: 5_000,
      now: () => clock,
    });
    const first = (await metrics.scrape(undefined)).body;
    expect(first).toMatch(/^keelson_jobs_queued\{task="payment__capture"\} 2$/m);
    expect(first).toMatch(/^keelson_jobs_queued\{task="auth__cleanup"\} 0$/m);
    expect(first).toMatch(/^keelson_jobs_oldest_queued_age_seconds\{task="payment__capture"\} 12.5$/m);
    expect(first).toMatch(/^keelson_jobs_locked\{task="payment__capture"\} 1$/m);
    expect(first).toMatch(/^keelson_jobs_failed_permanently\{task="payment__capture"\} 0$/m);
    clock = 4_999;
    await metrics.scrape(undefined);
    expect(queries).toBe(1);
    clock = 5_000;
    await metrics.scrape(undefined);
    expect(queries).toBe(2);
  });

  it('leaves the queue gauges out of a scrape whose query fails, and says why', async () => {
    const errors: unknown[] = [];
    const metrics = createWorkerMetrics({
      queryQueue: async () => {
        throw new Error('connection refused');
      },
      knownTasks: ['payment__capture'],
      onQueueError: (err) => errors.push(err),
    });
    const { body } = await metrics.scrape(undefined);
    expect(body).not.toMatch(/^keelson_jobs_queued\{/m);
    expect(body).toMatch(/^process_cpu_user_seconds_total /m);
    expect(errors).toHaveLength(1);
  });
});
