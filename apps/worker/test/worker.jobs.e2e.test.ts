/**
 * The vertical slice end to end: a mutation through the real client commits a row and a job in one
 * transaction, and the real worker process (`apps/worker/src/main.ts`) runs it.
 */
import { seed } from '@keelson/db';
import {
  eventually,
  queuedJobs,
  type RunningProcess,
  sql,
  startProcess,
  startTestApi,
  type TestApi,
} from '@keelson/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

describe('worker process', () => {
  let api: TestApi;
  let worker: RunningProcess;
  const viewCount = async (id: string) =>
    (await sql<{ view_count: number }>(api.db.url, 'select view_count from product where id = $1', [id]))[0]
      ?.view_count;

  beforeAll(async () => {
    api = await startTestApi();
    await seed(api.orm.em.fork(), {});
    worker = startProcess('apps/worker/src/main.ts', {
      DATABASE_URL: api.db.url,
      LOG_LEVEL: 'info',
      WORKER_POLL_INTERVAL_MS: '200',
      WORKER_HTTP_PORT: '0',
    });
    await worker.waitFor(/Worker connected and looking for jobs/);
  });
  afterAll(async () => {
    await worker?.stop('SIGKILL');
    await api?.close();
  });

  it('runs a job committed with the write that caused it', async () => {
    const product = await api.client.catalog.get.query({ slug: 'wool-mug' });
    await Promise.all([1, 2, 3].map(() => api.client.catalog.recordView.mutate({ id: product.id })));
    await eventually(async () => (await viewCount(product.id)) === 3);
    await eventually(async () => (await queuedJobs(api.db.url)).length === 0);
    expect((await api.client.catalog.get.query({ id: product.id })).viewCount).toBe(3);
  });

  it('has nothing to run for a write that rolled back', async () => {
    const product = await api.client.catalog.get.query({ slug: 'wool-notebook' });
    // The product check fails after nothing was written, and the transaction rolls back as a whole.
    await sql(api.db.url, 'update product set archived_at = now() where id = $1', [product.id]);
    await expect(api.client.catalog.recordView.mutate({ id: product.id })).rejects.toMatchObject({
      data: { code: 'NOT_FOUND' },
    });
    expect(await queuedJobs(api.db.url)).toEqual([]);
    expect(await sql(api.db.url, 'select 1 from analytics_event where product_id = $1', [product.id])).toEqual([]);
  });

  it('fails a job with an invalid payload permanently, at once, and keeps it visible', async () => {
    const [{ id }] = (await sql<{ id: string }>(
      api.db.url,
      `select id::text from graphile_worker.add_job('catalog__refresh_view_count', '{"productId":"not-a-uuid"}'::json)`,
    )) as [{ id: string }];
    const job = await eventually(async () => (await queuedJobs(api.db.url)).find((j) => j.id === id && j.last_error));
    expect(job).toMatchObject({ attempts: 1, max_attempts: 1 });
    expect(job.last_error).toContain('Invalid payload for catalog__refresh_view_count');
  });

  it('keeps serving after every database connection is cut (a PostgreSQL restart or failover)', async () => {
    const cut = await sql(
      api.db.url,
      'select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()',
    );
    expect(cut.length).toBeGreaterThan(0);
    const product = await eventually(() => api.client.catalog.get.query({ slug: 'copper-mug' }).catch(() => null));
    await api.client.catalog.recordView.mutate({ id: product.id });
    await eventually(async () => (await viewCount(product.id)) === 1);
    expect(worker.child.exitCode).toBeNull();
  });

  it('registers the recurring tasks of the contracts (cron)', async () => {
    const known = await sql<{ identifier: string }>(
      api.db.url,
      'select identifier from graphile_worker._private_known_crontabs order by identifier',
    );
    expect(known.map((k) => k.identifier)).toContain('auth__cleanup');
  });

  it('stops on SIGTERM with exit code 0', async () => {
    const { code, ms } = await worker.stop('SIGTERM');
    expect(code).toBe(0);
    expect(ms).toBeLessThan(10_000);
    expect(worker.output()).toContain('"msg":"stopped"');
  });
});
