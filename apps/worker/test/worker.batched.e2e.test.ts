/**
 * Batched completion and failure (WORKER_COMPLETE_BATCH_DELAY_MS, WORKER_FAIL_BATCH_DELAY_MS): every job
 * still runs once, a SIGTERM still lets running jobs finish and their batched completion reach the
 * database before exit 0, and after a SIGKILL the heartbeat sweep still frees what the dead worker held. A job runs as long as a
 * test wants by holding the row lock its task updates (the product of `catalog__refresh_view_count`),
 * as in worker.shutdown.e2e.test.ts.
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

const BATCHED = {
  WORKER_COMPLETE_BATCH_DELAY_MS: '50',
  WORKER_FAIL_BATCH_DELAY_MS: '50',
};

describe('the batched worker (batched completion and failure)', () => {
  let db: TestDatabase;
  const processes: RunningProcess[] = [];

  const startWorker = async (env: Record<string, string> = {}) => {
    const worker = startProcess('apps/worker/src/main.ts', {
      DATABASE_URL: db.url,
      LOG_LEVEL: 'info',
      WORKER_POLL_INTERVAL_MS: '200',
      WORKER_HTTP_PORT: '0',
      ...BATCHED,
      ...env,
    });
    processes.push(worker);
    await worker.waitFor(/Worker connected and looking for jobs/);
    return worker;
  };

  /** `count` refresh jobs for the product, in one statement. */
  const addJobs = async (productId: string, count: number) =>
    (
      await sql<{ id: string }>(
        db.url,
        `select (graphile_worker.add_job('catalog__refresh_view_count', json_build_object('productId', $1::text))).id::text
         from generate_series(1, $2)`,
        [productId, count],
      )
    ).map((r) => r.id);

  const states = async (ids: string[]) =>
    sql<{ id: string; attempts: number; locked_by: string | null }>(
      db.url,
      'select id::text, attempts, locked_by from graphile_worker.jobs where id = any($1::bigint[]) order by id',
      [ids],
    );

  const completedIds = (worker: RunningProcess) =>
    [...worker.output().matchAll(/Completed task (\d+) /g)].map((m) => m[1] as string);

  beforeAll(async () => {
    db = await testDatabase();
  });
  afterEach(async () => {
    for (const p of processes.splice(0)) await p.stop('SIGKILL');
    await sql(db.url, 'delete from graphile_worker._private_jobs');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('runs every job once, completed in batches', { timeout: 60_000 }, async () => {
    const worker = await startWorker({ WORKER_CONCURRENCY: '4' });
    const products = await Promise.all([1, 2, 3, 4].map(() => createProduct(db.url, { priceCents: 100, stock: 1 })));
    const ids = (await Promise.all(products.map((p) => addJobs(p.id, 50)))).flat();
    await eventually(async () => (await states(ids)).length === 0, 30_000);
    const completed = completedIds(worker);
    expect(completed.sort()).toEqual([...ids].sort());
    expect(new Set(completed).size).toBe(ids.length);
    expect((await worker.stop('SIGTERM')).code).toBe(0);
  });

  it('on SIGTERM, lets the running job finish, completes what is batched, and exits 0', {
    timeout: 60_000,
  }, async () => {
    const first = await startWorker({ WORKER_CONCURRENCY: '2' });
    const [held, free] = await Promise.all([1, 2].map(() => createProduct(db.url, { priceCents: 100, stock: 1 })));
    const lock = await lockRow(db.url, { table: 'product', id: held!.id });
    const [blocked] = await addJobs(held!.id, 1);
    const quick = await addJobs(free!.id, 20);
    await eventually(async () => (await states(quick)).length === 0, 15_000);
    await eventually(async () => (await states([blocked!]))[0]?.locked_by != null, 15_000);

    const stopped = first.stop('SIGTERM');
    // Within the default grace (5 s): the job finishes, and its completion waits for the batch.
    await new Promise((r) => setTimeout(r, 1_000));
    await lock.release();
    const { code } = await stopped;
    expect(code, first.output()).toBe(0);
    expect(await states([blocked!, ...quick])).toEqual([]);
    const completed = completedIds(first);
    expect(completed.sort()).toEqual([blocked!, ...quick].sort());
  });

  it('after a SIGKILL, the sweep frees the job the dead worker held and another worker runs every job once', {
    timeout: 60_000,
  }, async () => {
    const heartbeat = {
      WORKER_HEARTBEAT_INTERVAL_MS: '500',
      WORKER_DEAD_AFTER_MS: '3000',
    };
    const doomed = await startWorker({ ...heartbeat, WORKER_CONCURRENCY: '1' });
    const product = await createProduct(db.url, { priceCents: 100, stock: 1 });
    const lock = await lockRow(db.url, { table: 'product', id: product.id });
    const ids = await addJobs(product.id, 10);
    await eventually(async () => (await states(ids)).some((j) => j.locked_by !== null), 15_000);
    await doomed.stop('SIGKILL');

    const rescuer = await startWorker(heartbeat);
    await lock.release();
    await eventually(async () => (await states(ids)).length === 0, 30_000);
    expect(rescuer.output()).toMatch(/released \d+ job\(s\) locked by dead worker\(s\)/);
    const completed = completedIds(rescuer);
    expect(completed.sort()).toEqual([...ids].sort());
  });
});
