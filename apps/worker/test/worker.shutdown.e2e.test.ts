/**
 * What happens to a running job when its worker process stops: on SIGTERM it finishes within the grace
 * period; past the grace it is failed and retried; on SIGKILL the heartbeat sweep of another worker frees
 * it long before graphile-worker's four hours. A job is made to run as long as a test wants by holding,
 * from another connection, a lock on the product row `catalog__refresh_view_count` updates.
 */
import type { TestDatabase } from '@keelson/db/testing';
import {
  createProduct,
  eventually,
  lockRow,
  type RunningProcess,
  sql,
  startProcess,
  testDatabase,
} from '@keelson/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

interface JobRow {
  attempts: number;
  last_error: string | null;
  locked_by: string | null;
  later: boolean;
}

describe('worker shutdown and crash recovery', () => {
  let db: TestDatabase;
  const processes: RunningProcess[] = [];

  const startWorker = async (env: Record<string, string> = {}) => {
    const worker = startProcess('apps/worker/src/main.ts', {
      DATABASE_URL: db.url,
      LOG_LEVEL: 'info',
      WORKER_POLL_INTERVAL_MS: '200',
      WORKER_HTTP_PORT: '0',
      ...env,
    });
    processes.push(worker);
    await worker.waitFor(/Worker connected and looking for jobs/);
    return worker;
  };

  /** Holds the product's row lock until `release`. */
  const holdProduct = (productId: string) => lockRow(db.url, { table: 'product', id: productId });

  const addRefreshJob = async (productId: string) => {
    const [row] = await sql<{ id: string }>(
      db.url,
      `select id::text from graphile_worker.add_job('catalog__refresh_view_count', json_build_object('productId', $1::text))`,
      [productId],
    );
    return row!.id;
  };

  const job = async (id: string) =>
    (
      await sql<JobRow>(
        db.url,
        'select attempts, last_error, locked_by, run_at > now() as later from graphile_worker.jobs where id = $1',
        [id],
      )
    )[0];

  const runningJob = (id: string) => eventually(async () => ((await job(id))?.locked_by ? job(id) : null));

  beforeAll(async () => {
    db = await testDatabase();
  });
  // A failed test must not leave a worker behind to take the next test's jobs.
  afterEach(async () => {
    for (const p of processes.splice(0)) await p.stop('SIGKILL');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('lets a running job finish after SIGTERM, then exits 0', async () => {
    const worker = await startWorker();
    const product = await createProduct(db.url, { priceCents: 100, stock: 1 });
    const lock = await holdProduct(product.id);
    const id = await addRefreshJob(product.id);
    await runningJob(id);
    const stopped = worker.stop('SIGTERM');
    // The job needs about 1.5 s more; the default grace (5 s) covers it.
    await new Promise((r) => setTimeout(r, 1500));
    expect(worker.child.exitCode).toBeNull();
    await lock.release();
    const { code } = await stopped;
    expect(code).toBe(0);
    expect(await job(id)).toBeUndefined();
    expect(worker.output()).toMatch(new RegExp(`Completed task ${id} `));
  });

  it('fails a job still running when the grace runs out, and another worker retries it', async () => {
    const first = await startWorker({ WORKER_SHUTDOWN_GRACE_MS: '300', SHUTDOWN_TIMEOUT_MS: '5000' });
    const product = await createProduct(db.url, { priceCents: 100, stock: 1 });
    const lock = await holdProduct(product.id);
    const id = await addRefreshJob(product.id);
    await runningJob(id);
    const stopped = first.stop('SIGTERM');
    const failed = await eventually(async () => {
      const row = await job(id);
      return row?.last_error && !row.locked_by ? row : null;
    });
    expect(failed.attempts).toBe(1);
    expect(failed.last_error).toMatch(/Interrupted: the worker stopped \(shutdown grace of 300 ms ran out\)/);
    expect(failed.later).toBe(true); // back-off before the retry
    await lock.release();
    await stopped;

    const second = await startWorker();
    await eventually(async () => (await job(id)) === undefined, 15_000);
    expect(second.output()).toMatch(
      new RegExp(`Completed task ${id} \\(catalog__refresh_view_count, [\\d.]+ms, attempt 2 of \\d+\\)`),
    );
    await second.stop('SIGTERM');
  });

  it('frees the job of a SIGKILLed worker within WORKER_DEAD_AFTER_MS, and another worker runs it', async () => {
    const heartbeat = { WORKER_HEARTBEAT_INTERVAL_MS: '500', WORKER_DEAD_AFTER_MS: '3000' };
    const doomed = await startWorker(heartbeat);
    const product = await createProduct(db.url, { priceCents: 100, stock: 1 });
    const lock = await holdProduct(product.id);
    const id = await addRefreshJob(product.id);
    const { locked_by: deadWorker } = await runningJob(id);
    // The heartbeat covers the id graphile-worker locks jobs with.
    await eventually(
      async () => (await sql(db.url, 'select 1 from worker_heartbeat where worker_id = $1', [deadWorker])).length > 0,
    );
    await doomed.stop('SIGKILL');
    const killedAt = Date.now();

    const rescuer = await startWorker(heartbeat);
    await lock.release();
    await eventually(async () => (await job(id)) === undefined, 20_000);
    // Well before graphile-worker's own four hours: dead after 3 s, swept every 0.5 s.
    expect(Date.now() - killedAt).toBeLessThan(20_000);
    expect(rescuer.output()).toMatch(/released 1 job\(s\) locked by dead worker\(s\)/);
    expect(rescuer.output()).toContain(deadWorker!);
    expect(rescuer.output()).toMatch(new RegExp(`Completed task ${id} .*attempt 2 of \\d+`));
    expect(await sql(db.url, 'select 1 from worker_heartbeat where worker_id = $1', [deadWorker])).toEqual([]);
    await rescuer.stop('SIGTERM');
  });
});
