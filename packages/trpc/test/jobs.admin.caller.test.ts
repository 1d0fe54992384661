/**
 * Job administration through the router (createCaller), with a real worker in this process running the
 * jobs, so failed, locked and queued jobs are what graphile-worker itself made them.
 */
import { enqueue } from '@keelson/jobs';
import {
  createProduct,
  createUsers,
  eventually,
  sql,
  startTestWorker,
  testContext,
  useTestOrm,
} from '@keelson/testing';
import { appRouter, createCallerFactory } from '@keelson/trpc';
import { TRPCError } from '@trpc/server';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const createCaller = createCallerFactory(appRouter);
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('jobs administration (createCaller)', () => {
  const t = useTestOrm();
  let admin: ReturnType<typeof createCaller>;
  let adminId: string;
  let worker: Awaited<ReturnType<typeof startTestWorker>>;

  const addJob = async (payload: string, extra = '') =>
    (
      await sql<{ id: string }>(
        t.db.url,
        `select id::text from graphile_worker.add_job('catalog__refresh_view_count', $1::json${extra})`,
        [payload],
      )
    )[0]!.id;
  const codeOf = (p: Promise<unknown>) =>
    p.then(
      () => 'ok',
      (err: unknown) =>
        err instanceof TRPCError ? `${err.code} ${(err.cause as { code?: string })?.code ?? ''}` : err,
    );

  beforeAll(async () => {
    const [user] = await createUsers(t.db.url, 1, { role: 'admin' });
    adminId = user!.id;
    admin = createCaller(testContext(t.orm, { token: user!.token }));
    worker = await startTestWorker({ db: t.db });
  });
  afterAll(() => worker?.stop());

  it('lists a permanently failed job with its error; retry runs it again; cancel fails it for good', async () => {
    const id = await addJob('{"productId":"not-a-uuid"}');
    const failed = await eventually(async () =>
      (await admin.jobs.list({ state: 'failed' })).items.find((j) => j.id === id),
    );
    expect(failed).toMatchObject({ task: 'catalog__refresh_view_count', state: 'failed', attempts: 1, maxAttempts: 1 });
    expect(failed.lastError).toContain('Invalid payload for catalog__refresh_view_count');
    expect(await admin.jobs.counts()).toContainEqual({
      task: 'catalog__refresh_view_count',
      state: 'failed',
      count: 1,
    });

    // Retried: queued again with its attempts reset, then run (and, still invalid, failed again).
    // The worker may take (or even fail) it again before the answer is read: any state is an answer.
    const retried = await admin.jobs.retry({ id });
    expect(retried.id).toBe(id);
    const again = await eventually(async () =>
      (await admin.jobs.list({ state: 'failed' })).items.find((j) => j.id === id),
    );
    expect(again.attempts).toBe(1);

    // Cancelled: failed for good, with who did it.
    const queued = await addJob(
      '{"productId":"01a1fc83-fefb-7ec8-8e30-7824fab62800"}',
      `, run_at => now() + interval '1 day'`,
    );
    const cancelled = await admin.jobs.cancel({ id: queued });
    expect(cancelled).toMatchObject({ state: 'failed', lastError: `Cancelled by an administrator (user ${adminId})` });
    expect((await admin.jobs.list({ state: 'queued' })).items.map((j) => j.id)).not.toContain(queued);
    expect((await admin.jobs.list({ state: 'failed' })).items.map((j) => j.id)).toContain(queued);
  });

  it('refuses to retry or cancel a running job (JOB_RUNNING), and answers JOB_NOT_FOUND for an unknown id', async () => {
    const product = await createProduct(t.db.url, { priceCents: 100, stock: 1 });
    const lock = new pg.Client({ connectionString: t.db.url });
    await lock.connect();
    await lock.query('begin');
    await lock.query('select 1 from product where id = $1 for update', [product.id]);
    try {
      const id = await addJob(JSON.stringify({ productId: product.id }));
      const running = await eventually(async () =>
        (await admin.jobs.list({ state: 'locked' })).items.find((j) => j.id === id),
      );
      expect(running.lockedBy).toMatch(/^pool-/);
      expect(await codeOf(admin.jobs.retry({ id }))).toBe('CONFLICT JOB_RUNNING');
      expect(await codeOf(admin.jobs.cancel({ id }))).toBe('CONFLICT JOB_RUNNING');
    } finally {
      await lock.query('commit');
      await lock.end();
    }
    expect(await codeOf(admin.jobs.retry({ id: '999999999' }))).toBe('NOT_FOUND JOB_NOT_FOUND');
    expect(await codeOf(admin.jobs.cancel({ id: '999999999' }))).toBe('NOT_FOUND JOB_NOT_FOUND');
    // Past bigint: refused as input, not an error from PostgreSQL's cast.
    expect(await codeOf(admin.jobs.retry({ id: '9999999999999999999' }))).toMatch(/^BAD_REQUEST/);
    expect(await codeOf(admin.jobs.list({ state: 'failed', cursor: '9999999999999999999' }))).toMatch(/^BAD_REQUEST/);
  });

  it('shows payloads without their _meta, newest first, a page at a time', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const product = await createProduct(t.db.url, { priceCents: 100, stock: 1 });
      const job = await t.orm.em.fork().transactional((tx) =>
        enqueue(
          tx,
          'catalog__refresh_view_count',
          { productId: product.id },
          {
            traceparent: TRACEPARENT,
            runAt: new Date(Date.now() + 86_400_000),
          },
        ),
      );
      ids.push(job.id);
    }
    const first = await admin.jobs.list({ state: 'queued', task: 'catalog__refresh_view_count', limit: 2 });
    expect(first.items.map((j) => j.id)).toEqual([ids[2], ids[1]]);
    expect(first.items[0]!.payload).not.toHaveProperty('_meta');
    expect(first.items[0]!.payload).toHaveProperty('productId');
    const second = await admin.jobs.list({
      state: 'queued',
      task: 'catalog__refresh_view_count',
      cursor: first.nextCursor,
    });
    expect(second).toEqual({ items: [expect.objectContaining({ id: ids[0] })], nextCursor: null });
  });
});
