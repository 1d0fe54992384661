/**
 * The worker's `/metrics` with the runner in this process: job counters and durations move as jobs run
 * and fail, the queue gauges follow graphile-worker's jobs, and promtool accepts the exposition.
 */
import { createOrm, type MikroORM } from '@keelson/db';
import type { TestDatabase } from '@keelson/db/testing';
import {
  createProduct,
  eventually,
  needsTool,
  promtoolCheckMetrics,
  type Sample,
  sampleValue,
  scrapeMetrics,
  sql,
  testConfig,
  testDatabase,
  testLogger,
} from '@keelson/testing';
import { createWorker, type KeelsonWorker } from '@keelson/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkerHttp, type WorkerHttp } from '../src/http.ts';
import { workerMetrics } from '../src/metrics.ts';

const TASK = 'catalog__refresh_view_count';

describe('worker metrics', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  let worker: KeelsonWorker;
  let http: WorkerHttp;
  let baseUrl: string;
  const scrape = async () => (await scrapeMetrics(baseUrl)).samples;
  const addJob = (task: string, payload: object, runAt = new Date()) =>
    sql(db.url, 'select graphile_worker.add_job($1, $2::json, run_at => $3)', [task, JSON.stringify(payload), runAt]);

  beforeAll(async () => {
    db = await testDatabase();
    // This replica runs one task only, so jobs of other tasks stay queued for the gauges to show.
    const config = testConfig({ DATABASE_URL: db.url, WORKER_POLL_INTERVAL_MS: '200', WORKER_TASKS: TASK });
    orm = await createOrm({ url: db.url, poolMax: 4 });
    const logger = testLogger();
    // No cache: each scrape below must see the queue as it is now.
    const metrics = workerMetrics({ orm, logger, queueCacheMs: 0 });
    worker = createWorker({ config, orm, logger, databaseUrl: db.url, metrics });
    http = createWorkerHttp({
      orm,
      logger,
      databaseUrl: db.url,
      acquireTimeoutMs: config.database.acquireTimeoutMs,
      isRunning: worker.isRunning,
      metrics,
      metricsToken: null,
    });
    baseUrl = await http.listen({ host: '127.0.0.1', port: 0 });
    await worker.start();
  });
  afterAll(async () => {
    await worker?.stop();
    await http?.close();
    await orm?.close(true);
    await db?.drop();
  });

  it('counts a job that succeeds and one that fails, with their durations, by task', async () => {
    const product = await createProduct(db.url, { priceCents: 100, stock: 1 });
    await addJob(TASK, { productId: product.id });
    // A payload its contract rejects fails at once and for good (see defineTask).
    await sql(db.url, `select graphile_worker.add_job($1, '{"productId": "not-a-uuid"}'::json)`, [TASK]);

    const samples = await eventually(async () => {
      const s = await scrape();
      return sampleValue(s, 'keelson_jobs_completed_total', { task: TASK }) === 1 &&
        sampleValue(s, 'keelson_jobs_failed_total', { task: TASK }) === 1
        ? s
        : null;
    });
    const durations = (outcome: string) =>
      sampleValue(samples, 'keelson_job_duration_seconds_count', { task: TASK, outcome });
    expect([durations('success'), durations('failure')]).toEqual([1, 1]);
    expect(sampleValue(samples, 'keelson_jobs_failed_permanently', { task: TASK })).toBe(1);
    expect(sampleValue(samples, 'keelson_jobs_queued', { task: TASK })).toBe(0);
    expect(sampleValue(samples, 'keelson_jobs_locked', { task: TASK })).toBe(0);
  });

  it('shows due jobs of a task nobody runs as queued, with the age of the oldest; future ones are not queued', async () => {
    const id = '00000000-0000-7000-8000-000000000001';
    await addJob('payment__refund', { orderId: id });
    await addJob('email__order_status', { orderId: id, status: 'paid' }, new Date(Date.now() + 3_600_000));
    await sql(
      db.url,
      `update graphile_worker._private_jobs set run_at = now() - interval '90 seconds'
      where task_id = (select id from graphile_worker._private_tasks where identifier = 'payment__refund')`,
    );

    const samples: Sample[] = await scrape();
    expect(sampleValue(samples, 'keelson_jobs_queued', { task: 'payment__refund' })).toBe(1);
    const age = sampleValue(samples, 'keelson_jobs_oldest_queued_age_seconds', { task: 'payment__refund' });
    expect(age).toBeGreaterThanOrEqual(90);
    expect(age).toBeLessThan(600);
    expect(sampleValue(samples, 'keelson_jobs_queued', { task: 'email__order_status' })).toBe(0);
    expect(sampleValue(samples, 'keelson_jobs_oldest_queued_age_seconds', { task: 'email__order_status' })).toBe(0);
    // Every task of the contracts has its series, at 0 when it has no job.
    expect(sampleValue(samples, 'keelson_jobs_queued', { task: 'report__daily_sales' })).toBe(0);
    expect(samples.some((s) => s.name === 'keelson_jobs_queued' && s.labels.task === 'report__daily_sales')).toBe(true);
  });

  it('counts a job running its last attempt as locked, not as failed for good', async () => {
    // graphile-worker counts an attempt when a worker takes the job: a last attempt in progress has
    // attempts = max_attempts while it runs, and must not page anyone as permanently failed.
    await addJob('report__generate_sales', { reportId: '00000000-0000-7000-8000-000000000002' });
    await sql(
      db.url,
      `update graphile_worker._private_jobs set attempts = max_attempts, locked_at = now(), locked_by = 'elsewhere'
      where task_id = (select id from graphile_worker._private_tasks where identifier = 'report__generate_sales')`,
    );
    const samples = await scrape();
    expect(sampleValue(samples, 'keelson_jobs_locked', { task: 'report__generate_sales' })).toBe(1);
    expect(sampleValue(samples, 'keelson_jobs_failed_permanently', { task: 'report__generate_sales' })).toBe(0);
  });

  it('reports both database pools by state and a payments counter', async () => {
    const samples = await scrape();
    const pool = samples.filter((s) => s.name === 'keelson_db_pool_connections');
    expect(pool.map((s) => s.labels.state).sort()).toEqual(['idle', 'in_use', 'waiting']);
    // graphile-worker holds a connection to LISTEN for new jobs.
    expect(sampleValue(samples, 'keelson_db_pool_connections', { state: 'in_use' })).toBeGreaterThanOrEqual(1);
    expect(samples.some((s) => s.name === 'keelson_payments_failed_total')).toBe(true);
  });

  it('serves an exposition promtool finds nothing wrong with', needsTool('promtool'), async () => {
    const { text } = await scrapeMetrics(baseUrl);
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
    expect(promtoolCheckMetrics(text)).toBe('');
  });
});
