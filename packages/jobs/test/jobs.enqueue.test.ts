import { EnqueueOutsideTransactionError, enqueue } from '@keelson/jobs';
import { queuedJobs, sql, useTestOrm } from '@keelson/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { ZodError } from 'zod';

const PRODUCT = '01a1fc83-fefb-7ec8-8e30-7824fab62800';

describe('enqueue', () => {
  const t = useTestOrm();
  const jobs = async () =>
    (await queuedJobs(t.db.url)).map(({ task, payload, key, max_attempts }) => ({ task, payload, key, max_attempts }));
  beforeEach(async () => {
    await sql(t.db.url, 'delete from graphile_worker._private_jobs');
  });

  it('adds the job when the transaction commits, with the contract defaults', async () => {
    await t.orm.em.fork().transactional((tx) => enqueue(tx, 'catalog__refresh_view_count', { productId: PRODUCT }));
    expect(await jobs()).toEqual([
      {
        task: 'catalog__refresh_view_count',
        payload: { productId: PRODUCT },
        key: `catalog__refresh_view_count:${PRODUCT}`,
        max_attempts: 10,
      },
    ]);
  });

  it('adds nothing when the transaction rolls back', async () => {
    await expect(
      t.orm.em.fork().transactional(async (tx) => {
        await enqueue(tx, 'catalog__refresh_view_count', { productId: PRODUCT });
        throw new Error('the write failed');
      }),
    ).rejects.toThrow('the write failed');
    expect(await jobs()).toEqual([]);
  });

  it('collapses jobs with the same key into one', async () => {
    await t.orm.em.fork().transactional(async (tx) => {
      await enqueue(tx, 'catalog__refresh_view_count', { productId: PRODUCT });
      await enqueue(tx, 'catalog__refresh_view_count', { productId: PRODUCT });
    });
    expect(await jobs()).toHaveLength(1);
  });

  it('refuses to run outside a transaction', async () => {
    await expect(enqueue(t.orm.em.fork(), 'catalog__refresh_view_count', { productId: PRODUCT })).rejects.toThrow(
      EnqueueOutsideTransactionError,
    );
  });

  it('validates the payload against the contract before writing', async () => {
    await expect(
      t.orm.em.fork().transactional((tx) => enqueue(tx, 'catalog__refresh_view_count', { productId: 'not-a-uuid' })),
    ).rejects.toThrow(ZodError);
    expect(await jobs()).toEqual([]);
  });
});
