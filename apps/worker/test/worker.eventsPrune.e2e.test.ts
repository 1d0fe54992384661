/**
 * `events__prune` run by the real worker, and what a client resuming from a pruned cursor gets over the
 * wire: EVENTS_EXPIRED (CONFLICT), never a silent gap; a cursor at the mark still resumes.
 */

import { enqueue } from '@keelson/jobs';
import { publishEvents } from '@keelson/realtime';
import { createProduct, eventually, queuedJobs, sql, startTestApi, startTestWorker } from '@keelson/testing';
import { describe, expect, it } from 'vitest';

describe('events__prune', () => {
  it('prunes past the retention, and a resume from before the mark answers EVENTS_EXPIRED', {
    timeout: 60_000,
  }, async () => {
    await using api = await startTestApi();
    const url = api.db.url;
    const product = await createProduct(url, { priceCents: 100, stock: 10 });
    await api.orm.em.fork().transactional((tx) =>
      publishEvents(
        tx,
        [1, 2, 3, 4].map((stock) => ({ topic: 'stock' as const, payload: { productId: product.id, stock } })),
      ),
    );
    await api.app.events.sequence();
    const [{ first } = { first: '0' }] = await sql<{ first: string }>(
      url,
      'select min(position)::text as first from app_event',
    );
    const base = Number(first) - 1;
    // The first two are past the 72-hour default retention.
    await sql(url, `update app_event set created_at = now() - interval '100 hours' where position <= $1`, [base + 2]);

    await using _worker = await startTestWorker({ db: api.db });
    const { id } = await api.orm.em.fork().transactional((tx) => enqueue(tx, 'events__prune', {}));
    await eventually(async () => !(await queuedJobs(url)).some((j) => j.id === id), 20_000);
    expect(await sql(url, 'select position::int from app_event_pruned')).toEqual([{ position: base + 2 }]);
    expect(await sql(url, 'select position::int from app_event order by position')).toEqual([
      { position: base + 3 },
      { position: base + 4 },
    ]);

    const client = api.newClient({ transport: 'sse' });
    const subscribe = (lastEventId: string) => {
      const got: { id: string; data: { stock: number } }[] = [];
      const errors: { data?: { code?: string; appCode?: string } }[] = [];
      const sub = client.catalog.onStockChange.subscribe(
        { productIds: [product.id], lastEventId },
        { onData: (e) => got.push(e), onError: (err) => errors.push(err as (typeof errors)[number]) },
      );
      return { got, errors, stop: () => sub.unsubscribe() };
    };
    const expired = subscribe(String(base + 1));
    await eventually(async () => expired.errors.length > 0, 15_000);
    expect(expired.errors[0]?.data).toMatchObject({ code: 'CONFLICT', appCode: 'EVENTS_EXPIRED' });
    expect(expired.got).toEqual([]);
    expired.stop();

    const atMark = subscribe(String(base + 2));
    await eventually(async () => atMark.got.length >= 2, 15_000);
    expect(atMark.got.map((e) => e.data.stock)).toEqual([3, 4]);
    expect(atMark.errors).toEqual([]);
    atMark.stop();
  });
});
