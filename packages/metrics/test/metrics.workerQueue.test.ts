import { describe, expect, it } from 'vitest';
import { createApiMetrics, createWorkerMetrics } from '../src/index.ts';

const row = { task: 'payment__capture', queued: 2, oldestQueuedAgeSeconds: 12.5, locked: 1, failedPermanently: 0 };

describe('queue gauges', () => {
  it('answer every gauge of a scrape, and scrapes within the cache time, from one query', async () => {
    let clock = 0;
    let queries = 0;
    const metrics = createWorkerMetrics({
      queue: {
        query: async () => {
          queries++;
          return [row];
        },
        knownTasks: ['payment__capture', 'auth__cleanup'],
        cacheMs: 5_000,
        now: () => clock,
      },
    });
    const first = (await metrics.scrape(undefined)).body;
    expect(first).toMatch(/^keelson_jobs_queued\{task="payment__capture"\} 2$/m);
    expect(first).toMatch(/^keelson_jobs_queued\{task="auth__cleanup"\} 0$/m);
    expect(first).toMatch(/^keelson_jobs_oldest_queued_age_seconds\{task="payment__capture"\} 12.5$/m);
    expect(first).toMatch(/^keelson_jobs_locked\{task="payment__capture"\} 1$/m);
    expect(first).toMatch(/^keelson_jobs_failed_permanently\{task="payment__capture"\} 0$/m);
    expect(first).toMatch(/^keelson_db_reachable 1$/m);
    clock = 4_999;
    await metrics.scrape(undefined);
    expect(queries).toBe(1);
    clock = 5_000;
    await metrics.scrape(undefined);
    expect(queries).toBe(2);
  });

  it('shares one read between scrapes that arrive while it runs', async () => {
    let queries = 0;
    let answer: (rows: (typeof row)[]) => void = () => {};
    const metrics = createApiMetrics();
    metrics.trackQueue({
      query: () => {
        queries++;
        return new Promise((resolve) => (answer = resolve));
      },
      knownTasks: ['payment__capture'],
      cacheMs: 0,
    });
    const scrapes = [metrics.scrape(undefined), metrics.scrape(undefined)];
    // No cache: each scrape reads once, its five gauges sharing the one query.
    await new Promise((r) => setTimeout(r, 10));
    answer([row]);
    await new Promise((r) => setTimeout(r, 10));
    answer([row]);
    const bodies = await Promise.all(scrapes);
    for (const { body } of bodies) expect(body).toMatch(/^keelson_jobs_queued\{task="payment__capture"\} 2$/m);
    expect(queries).toBe(2);
  });

  it('answers a scrape in time when the read hangs, reporting the database unreachable, and reads no second time meanwhile', async () => {
    let queries = 0;
    const metrics = createApiMetrics();
    metrics.trackQueue({
      query: () => {
        queries++;
        return new Promise(() => {});
      },
      knownTasks: ['payment__capture'],
      cacheMs: 0,
      timeoutMs: 50,
    });
    const started = performance.now();
    const { body } = await metrics.scrape(undefined);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(body).toMatch(/^keelson_db_reachable 0$/m);
    expect(body).not.toMatch(/^keelson_jobs_queued\{/m);
    await metrics.scrape(undefined);
    expect(queries).toBe(1);
  });

  it('leaves the queue gauges out of a scrape whose query fails, says why, and reports the database unreachable', async () => {
    const errors: unknown[] = [];
    const metrics = createWorkerMetrics({
      queue: {
        query: async () => {
          throw new Error('connection refused');
        },
        knownTasks: ['payment__capture'],
        onError: (err) => errors.push(err),
      },
    });
    const { body } = await metrics.scrape(undefined);
    expect(body).not.toMatch(/^keelson_jobs_queued\{/m);
    expect(body).toMatch(/^keelson_db_reachable 0$/m);
    expect(body).toMatch(/^process_cpu_user_seconds_total /m);
    expect(errors).toHaveLength(1);
  });
});

describe('series that exist before their first event', () => {
  it('the API has every procedure × code at 0 once declared', async () => {
    const metrics = createApiMetrics();
    metrics.declareProcedures(
      [
        { procedure: 'cart.get', type: 'query' },
        { procedure: 'orders.place', type: 'mutation' },
      ],
      ['ok', 'NOT_FOUND', 'INTERNAL_SERVER_ERROR'],
    );
    const { body } = await metrics.scrape(undefined);
    for (const [procedure, type] of [
      ['cart.get', 'query'],
      ['orders.place', 'mutation'],
    ]) {
      for (const code of ['ok', 'NOT_FOUND', 'INTERNAL_SERVER_ERROR']) {
        expect(body).toContain(
          `keelson_trpc_procedure_duration_seconds_count{procedure="${procedure}",type="${type}",code="${code}"} 0`,
        );
      }
    }
  });

  it('the worker has every task × outcome at 0', async () => {
    const metrics = createWorkerMetrics({
      queue: { query: async () => [], knownTasks: ['payment__capture', 'auth__cleanup'] },
    });
    const { body } = await metrics.scrape(undefined);
    for (const task of ['payment__capture', 'auth__cleanup']) {
      expect(body).toContain(`keelson_jobs_completed_total{task="${task}"} 0`);
      expect(body).toContain(`keelson_jobs_failed_total{task="${task}"} 0`);
      for (const outcome of ['success', 'failure']) {
        expect(body).toContain(`keelson_job_duration_seconds_count{task="${task}",outcome="${outcome}"} 0`);
      }
    }
  });
});
