/**
 * The vertical slice end to end: a mutation through the real client commits a row and a job in one
 * transaction, and the real worker process (`apps/worker/src/main.ts`) runs it.
 */
import type { KeelsonClient } from '@keelson/client';
import { seed } from '@keelson/db';
import { enqueue } from '@keelson/jobs';
import {
  createProduct,
  createUsers,
  eventually,
  queuedJobs,
  type RunningProcess,
  sampleValue,
  scrapeMetrics,
  sql,
  startProcess,
  startTestApi,
  type TestApi,
} from '@keelson/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** The worker's `/metrics` asks for it; its probes do not. */
const METRICS_TOKEN = 'b16b00b5'.repeat(5);
const CAPTURE = `(select id from graphile_worker._private_tasks where identifier = 'payment__capture')`;

describe('worker process', () => {
  let api: TestApi;
  let worker: RunningProcess;
  let workerUrl: string;
  let admin: KeelsonClient;
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
      METRICS_TOKEN,
      // One transient failure of `tok_processingError`, then success: one back-off to observe.
      PAYMENT_SANDBOX_TRANSIENT_FAILURES: '1',
    });
    [, workerUrl] = (await worker.waitFor(/"address":"(http:[^"]+)".*"msg":"worker http listening"/)) as [
      string,
      string,
    ];
    await worker.waitFor(/Worker connected and looking for jobs/);
    const [user] = await createUsers(api.db.url, 1, { role: 'admin', prefix: 'ops' });
    admin = api.newClient({ token: () => user!.token });
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

  it('retries a transient failure after a back-off, then succeeds', async () => {
    const [buyer] = await createUsers(api.db.url, 1, { prefix: 'buyer' });
    const client = api.newClient({ token: () => buyer!.token });
    const p = await createProduct(api.db.url, { priceCents: 1200, stock: 3 });
    await client.cart.addItem.mutate({ productId: p.id });
    const order = await client.orders.checkout.mutate({
      idempotencyKey: crypto.randomUUID(),
      paymentToken: 'tok_processingError',
    });
    // After the first attempt fails, the job waits: attempts 1, the error kept, run_at pushed back
    // by graphile-worker's exponential back-off (e^1 ≈ 2.7 s for the first retry).
    const failedOnce = await eventually(async () => {
      const [job] = await sql<{ attempts: number; last_error: string | null; delay_s: number }>(
        api.db.url,
        `select attempts, last_error, extract(epoch from run_at - updated_at)::float as delay_s
         from graphile_worker._private_jobs where payload->>'orderId' = $1 and task_id = ${CAPTURE}`,
        [order.id],
      );
      return job?.last_error ? job : null;
    });
    expect(failedOnce.attempts).toBe(1);
    expect(failedOnce.delay_s).toBeGreaterThan(2);
    await eventually(async () => (await client.orders.get.query({ id: order.id })).status === 'paid', 20_000);
    expect(
      await sql(
        api.db.url,
        `select 1 from graphile_worker._private_jobs where payload->>'orderId' = $1 and task_id = ${CAPTURE}`,
        [order.id],
      ),
    ).toEqual([]);
  });

  it('counts the capture attempts above and a declined payment on its /metrics', async () => {
    const [buyer] = await createUsers(api.db.url, 1, { prefix: 'declined' });
    const client = api.newClient({ token: () => buyer!.token });
    const p = await createProduct(api.db.url, { priceCents: 900, stock: 1 });
    await client.cart.addItem.mutate({ productId: p.id });
    const order = await client.orders.checkout.mutate({
      idempotencyKey: crypto.randomUUID(),
      paymentToken: 'tok_chargeDeclined',
    });
    await eventually(async () => (await client.orders.get.query({ id: order.id })).status === 'payment_failed', 20_000);
    const samples = await eventually(async () => {
      const { samples } = await scrapeMetrics(workerUrl, { token: METRICS_TOKEN });
      return sampleValue(samples, 'keelson_payments_failed_total') === 1 ? samples : null;
    });
    const capture = { task: 'payment__capture' };
    // The transient failure of the test above, then its success and this decline (a completed job).
    expect(sampleValue(samples, 'keelson_jobs_failed_total', capture)).toBe(1);
    expect(sampleValue(samples, 'keelson_jobs_completed_total', capture)).toBe(2);
    expect(sampleValue(samples, 'keelson_job_duration_seconds_count', { ...capture, outcome: 'failure' })).toBe(1);
  });

  it('fails a job for good after its last attempt and lists it as failed with its error', async () => {
    // A valid payload whose order does not exist: every attempt fails the same way.
    const orderId = crypto.randomUUID();
    const [{ id }] = (await sql<{ id: string }>(
      api.db.url,
      `select id::text from graphile_worker.add_job('email__order_status',
         json_build_object('orderId', $1::text, 'status', 'paid'), max_attempts => 2)`,
      [orderId],
    )) as [{ id: string }];
    const failed = await eventually(async () => {
      const page = await admin.jobs.list.query({ state: 'failed', task: 'email__order_status' });
      return page.items.find((j) => j.id === id);
    }, 20_000);
    expect(failed).toMatchObject({ attempts: 2, maxAttempts: 2, payload: { orderId, status: 'paid' } });
    expect(failed.lastError).toMatch(/order/i);
    const counts = await admin.jobs.counts.query();
    expect(counts).toContainEqual({ task: 'email__order_status', state: 'failed', count: 1 });
  });

  it('hands the job its traceparent and logs it with job id, task and attempt', async () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const { id } = await api.orm.em.fork().transactional((tx) => enqueue(tx, 'auth__cleanup', {}, { traceparent }));
    const [line] = await worker.waitFor(new RegExp(`\\{[^\\n]*"jobId":"${id}"[^\\n]*"msg":"auth cleanup:[^\\n]*`));
    expect(JSON.parse(line)).toMatchObject({
      jobId: id,
      task: 'auth__cleanup',
      attempt: 1,
      maxAttempts: 3,
      traceparent,
    });
  });

  it('serves /healthz, /readyz and, to the bearer of METRICS_TOKEN only, /metrics on its own port', async () => {
    expect(await (await fetch(`${workerUrl}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${workerUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
    for (const headers of [{}, { authorization: 'Bearer not-the-token' }]) {
      const refused = await fetch(`${workerUrl}/metrics`, { headers });
      expect(refused.status).toBe(401);
      expect(await refused.text()).not.toMatch(/process_cpu/);
    }
    const metrics = await fetch(`${workerUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(await metrics.text()).toMatch(/^process_cpu_user_seconds_total /m);
  });

  it('records a heartbeat for the pool id its jobs are locked by', async () => {
    const [beat] = await sql<{ worker_id: string; pid: number; age_ms: number }>(
      api.db.url,
      `select worker_id, pid, extract(epoch from now() - beat_at) * 1000 as age_ms from worker_heartbeat`,
    );
    expect(beat).toMatchObject({ worker_id: expect.stringMatching(/^pool-/), pid: worker.child.pid });
    expect(worker.output()).toContain(beat!.worker_id);
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
    // A clean stop leaves no heartbeat behind to be mistaken for a dead worker.
    expect(await sql(api.db.url, 'select 1 from worker_heartbeat')).toEqual([]);
  });
});
