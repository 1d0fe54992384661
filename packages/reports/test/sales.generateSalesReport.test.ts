/**
 * Generation streams: thousands of order lines are read through the cursor in many batches and written
 * as many chunks of about the configured size, and the chunks put together are exactly the CSV.
 */
import { uuidv7 } from '@keelson/db';
import { generateSalesReport, requestSalesReport } from '@keelson/reports';
import { createUsers, sql, useTestOrm } from '@keelson/testing';
import { beforeAll, describe, expect, it } from 'vitest';

const PRODUCTS = 2500;
const from = new Date('2026-05-01T00:00:00Z');
const to = new Date('2026-05-02T00:00:00Z');

describe('generateSalesReport', () => {
  const t = useTestOrm();
  const em = () => t.orm.em.fork();

  beforeAll(async () => {
    const [user] = await createUsers(t.db.url, 1);
    // 2,500 products, each bought in two paid orders of that day (5,000 orders, 5,000 lines).
    await sql(
      t.db.url,
      `insert into product (id, slug, name, category, price_cents, currency, stock, created_at, updated_at)
       select gen_random_uuid(), 'bulk-' || i, 'Bulk product ' || i, 'general', 100 + i, 'USD', 0, now(), now()
       from generate_series(1, $1) as i`,
      [PRODUCTS],
    );
    await sql(
      t.db.url,
      `with o as (
         insert into store_order (id, user_id, status, currency, subtotal_cents, tax_rate_bps, tax_cents, total_cents, created_at, updated_at)
         select gen_random_uuid(), $1, 'paid', 'USD', p.price_cents * 2, 0, 0, p.price_cents * 2,
           $2::timestamptz + (n * interval '1 second'), now()
         from product p cross join generate_series(1, 2) as n
         returning id, subtotal_cents
       )
       insert into order_line (id, order_id, product_id, product_name, product_slug, unit_price_cents, quantity, line_total_cents)
       select gen_random_uuid(), o.id, p.id, p.name, p.slug, p.price_cents, 2, p.price_cents * 2
       from o join product p on p.price_cents * 2 = o.subtotal_cents`,
      [user!.id, from],
    );
  });

  it('reads in batches and writes chunks of about REPORT_CHUNK_BYTES that add up to the file', async () => {
    const report = await requestSalesReport(em(), { params: { from, to, groupBy: 'product' }, requestedBy: null });
    const result = await generateSalesReport(em(), { reportId: report.id, chunkBytes: 4096, fetchRows: 100 });
    expect(result).toMatchObject({ outcome: 'ready', rowCount: PRODUCTS, batches: PRODUCTS / 100 });
    if (result.outcome !== 'ready') throw new Error('not ready');

    const chunks = await sql<{ seq: number; data: string }>(
      t.db.url,
      'select seq, data from report_chunk where report_id = $1 order by seq',
      [report.id],
    );
    expect(chunks.map((c) => c.seq)).toEqual(chunks.map((_, i) => i));
    expect(chunks.length).toBe(result.chunkCount);
    expect(chunks.length).toBeGreaterThan(20);
    const lineMax = 120;
    for (const c of chunks.slice(0, -1)) {
      // Each chunk ends at a line end, once it reached the target size.
      expect(Buffer.byteLength(c.data)).toBeGreaterThanOrEqual(4096);
      expect(Buffer.byteLength(c.data)).toBeLessThan(4096 + lineMax);
      expect(c.data.endsWith('\r\n')).toBe(true);
    }
    const text = chunks.map((c) => c.data).join('');
    expect(Buffer.byteLength(text)).toBe(result.byteSize);
    const lines = text.split('\r\n').slice(1, -1);
    expect(lines).toHaveLength(PRODUCTS);
    // Every product twice, two units each: 2 orders, 4 units, 4 × price.
    const [, name, orders, units, revenue] = lines.at(-1)!.split(',');
    expect(name).toBe('Bulk product 1');
    expect([orders, units, revenue]).toEqual(['2', '4', String(4 * 101)]);

    const [row] = await sql<{ status: string; row_count: number; byte_size: string; chunk_count: number }>(
      t.db.url,
      'select status, row_count, byte_size, chunk_count from report where id = $1',
      [report.id],
    );
    expect(row).toEqual({
      status: 'ready',
      row_count: PRODUCTS,
      byte_size: String(result.byteSize),
      chunk_count: chunks.length,
    });
  });

  it('does nothing for a report already generated, or unknown', async () => {
    const report = await requestSalesReport(em(), { params: { from, to, groupBy: 'day' }, requestedBy: null });
    const opts = { reportId: report.id, chunkBytes: 32, fetchRows: 1 };
    expect(await generateSalesReport(em(), opts)).toMatchObject({ outcome: 'ready', rowCount: 1, chunkCount: 2 });
    expect(await generateSalesReport(em(), opts)).toEqual({ outcome: 'already_done' });
    expect(await generateSalesReport(em(), { ...opts, reportId: uuidv7() })).toEqual({ outcome: 'missing' });
    const chunks = await sql(t.db.url, 'select seq from report_chunk where report_id = $1', [report.id]);
    expect(chunks).toHaveLength(2);
  });

  it('leaves nothing behind when an attempt fails part-way', async () => {
    const report = await requestSalesReport(em(), { params: { from, to, groupBy: 'product' }, requestedBy: null });
    // A chunk insert fails once a few chunks are written: the transaction takes all of them back.
    await sql(
      t.db.url,
      `create function fail_third_chunk() returns trigger language plpgsql as $$
       begin if new.seq = 3 then raise exception 'disk full'; end if; return new; end $$`,
    );
    await sql(
      t.db.url,
      'create trigger fail_third before insert on report_chunk for each row execute function fail_third_chunk()',
    );
    try {
      await expect(
        generateSalesReport(em(), { reportId: report.id, chunkBytes: 1024, fetchRows: 500 }),
      ).rejects.toThrow(/disk full/);
    } finally {
      await sql(t.db.url, 'drop trigger fail_third on report_chunk');
    }
    expect(await sql(t.db.url, 'select 1 from report_chunk where report_id = $1', [report.id])).toEqual([]);
    expect((await sql(t.db.url, 'select status from report where id = $1', [report.id]))[0]).toEqual({
      status: 'pending',
    });
    // The next attempt succeeds from scratch.
    expect(await generateSalesReport(em(), { reportId: report.id, chunkBytes: 1024, fetchRows: 500 })).toMatchObject({
      outcome: 'ready',
      rowCount: PRODUCTS,
    });
  });
});
