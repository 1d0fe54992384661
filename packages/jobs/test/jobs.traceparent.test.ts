import { enqueue, readJobMeta, tasks, withoutMeta } from '@keelson/jobs';
import { queuedJobs, sql, useTestOrm } from '@keelson/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { ZodError, z } from 'zod';

const PRODUCT = '01a1fc83-fefb-7ec8-8e30-7824fab62800';
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('trace context in jobs', () => {
  const t = useTestOrm();
  beforeEach(async () => {
    await sql(t.db.url, 'delete from graphile_worker._private_jobs');
  });

  it('stores the traceparent under the payload’s reserved _meta', async () => {
    await t.orm.em
      .fork()
      .transactional((tx) =>
        enqueue(tx, 'catalog__refresh_view_count', { productId: PRODUCT }, { traceparent: TRACEPARENT }),
      );
    const [job] = await queuedJobs(t.db.url);
    expect(job?.payload).toEqual({ productId: PRODUCT, _meta: { traceparent: TRACEPARENT } });
    expect(readJobMeta(job?.payload)).toEqual({ traceparent: TRACEPARENT });
  });

  it('adds no _meta without a traceparent', async () => {
    await t.orm.em.fork().transactional((tx) => enqueue(tx, 'catalog__refresh_view_count', { productId: PRODUCT }));
    expect((await queuedJobs(t.db.url))[0]?.payload).toEqual({ productId: PRODUCT });
  });

  it.each([
    'not-a-traceparent',
    '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', // unknown version
    '00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01', // upper case
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7', // no flags
  ])('refuses the malformed traceparent %s and adds nothing', async (traceparent) => {
    await expect(
      t.orm.em
        .fork()
        .transactional((tx) => enqueue(tx, 'catalog__refresh_view_count', { productId: PRODUCT }, { traceparent })),
    ).rejects.toThrow(ZodError);
    expect(await queuedJobs(t.db.url)).toEqual([]);
  });

  it('every contract accepts _meta and strips it, strict or not', () => {
    const parsed = tasks.email__order_status.payload.parse({
      orderId: PRODUCT,
      status: 'paid',
      _meta: { traceparent: TRACEPARENT },
    });
    expect(parsed).toEqual({ orderId: PRODUCT, status: 'paid' });
    // zod's plain objects drop unknown keys anyway, so what protects a strict schema is the step every
    // contract runs first: each payload must be that pipe (withoutMeta, then the contract's schema).
    for (const [name, contract] of Object.entries(tasks)) {
      expect(contract.payload._zod.def.type, name).toBe('pipe');
    }
    const strict = z.strictObject({ a: z.string() });
    expect(strict.safeParse({ a: 'x', _meta: { traceparent: TRACEPARENT } }).success).toBe(false);
    expect(z.preprocess(withoutMeta, strict).parse({ a: 'x', _meta: { traceparent: TRACEPARENT } })).toEqual({
      a: 'x',
    });
  });

  it('drops a malformed _meta when reading instead of failing the job', () => {
    expect(readJobMeta({ _meta: { traceparent: 'garbage' } })).toEqual({});
    expect(readJobMeta({ productId: PRODUCT })).toEqual({});
    expect(readJobMeta(null)).toEqual({});
  });
});
