/**
 * A job a live worker locked without running it: the answer to graphile-worker's `get_job` was lost with
 * its connection after the lock committed. graphile-worker would free it after 4 hours; the heartbeat
 * frees it once it is WORKER_DEAD_AFTER_MS old, and a job the worker runs is never taken from it.
 */
import { createProduct, eventually, lockRow, sql, startTestWorker, testDatabase } from '@keelson/testing';
import { expect, it } from 'vitest';

const jobGone = (url: string, id: string) => async () =>
  (await sql(url, 'select 1 from graphile_worker.jobs where id = $1', [id])).length === 0;

it("frees a job locked by this worker's own id that it is not running, and leaves a running one alone", async () => {
  await using db = await testDatabase();
  await using _worker = await startTestWorker({
    db,
    config: { WORKER_HEARTBEAT_INTERVAL_MS: '200', WORKER_DEAD_AFTER_MS: '1000' },
  });
  const [beat] = await eventually(async () => {
    const rows = await sql<{ worker_id: string }>(db.url, 'select worker_id from worker_heartbeat');
    return rows.length ? rows : null;
  });
  const ownId = beat!.worker_id;

  // The orphan: due, locked by our live pool a minute ago, run by nobody.
  const product = await createProduct(db.url, { priceCents: 100, stock: 1 });
  const [orphan] = await sql<{ id: string }>(
    db.url,
    `select id::text from graphile_worker.add_job('catalog__refresh_view_count',
       json_build_object('productId', $1::text), run_at => now() + interval '1 hour')`,
    [product.id],
  );
  await sql(
    db.url,
    `update graphile_worker._private_jobs set locked_by = $2, locked_at = now() - interval '1 minute', run_at = now()
      where id = $1`,
    [orphan!.id, ownId],
  );
  // Unlocked by a heartbeat round, then run (and deleted) by the worker.
  await eventually(jobGone(db.url, orphan!.id), 10_000);

  // A job running longer than WORKER_DEAD_AFTER_MS (blocked on a product row locked from here) is ours.
  const busy = await createProduct(db.url, { priceCents: 100, stock: 1 });
  const lock = await lockRow(db.url, { table: 'product', id: busy.id });
  try {
    const [long] = await sql<{ id: string }>(
      db.url,
      `select id::text from graphile_worker.add_job('catalog__refresh_view_count', json_build_object('productId', $1::text))`,
      [busy.id],
    );
    await eventually(
      async () =>
        (await sql(db.url, 'select 1 from graphile_worker.jobs where id = $1 and locked_by is not null', [long!.id]))
          .length > 0,
    );
    await new Promise((r) => setTimeout(r, 2_500));
    const [still] = await sql<{ attempts: number; locked_by: string | null }>(
      db.url,
      'select attempts, locked_by from graphile_worker.jobs where id = $1',
      [long!.id],
    );
    expect(still).toEqual({ attempts: 1, locked_by: ownId });
    await lock.release();
    await eventually(jobGone(db.url, long!.id));
  } finally {
    await lock.release().catch(() => {});
  }
});
