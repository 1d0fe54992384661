/**
 * Sales reports end to end: an admin asks through the real client, the real worker writes the CSV into
 * PostgreSQL, and the file is downloaded from the API's HTTP route and compared with the orders table.
 * Small REPORT_CHUNK_BYTES and REPORT_FETCH_ROWS make even these reports span several chunks.
 */
import { uuidv7 } from '@keelson/db';
import {
  createProduct,
  createUsers,
  eventually,
  sql,
  startTestApi,
  startTestWorker,
  type TestApi,
  type TestUser,
} from '@keelson/testing';
import type { RouterOutputs } from '@keelson/trpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

type Report = RouterOutputs['reports']['get'];
type Product = { id: string; name: string };

/** RFC 4180: quoted fields may hold commas, doubled quotes and line breaks. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += c;
  }
  if (field || row.length) throw new Error('CSV does not end with CRLF');
  return rows;
}

interface OrderSpec {
  userId: string;
  status: string;
  at: string;
  lines: { productId: string; priceCents: number; quantity: number }[];
  taxBps?: number;
}

/** Orders written straight to the tables (as checkout would leave them), at a chosen time and status. */
async function insertOrders(url: string, orders: OrderSpec[]) {
  for (const o of orders) {
    const id = uuidv7();
    const subtotal = o.lines.reduce((s, l) => s + l.priceCents * l.quantity, 0);
    const tax = Math.round((subtotal * (o.taxBps ?? 0)) / 10_000);
    await sql(
      url,
      `insert into store_order (id, user_id, status, currency, subtotal_cents, tax_rate_bps, tax_cents, total_cents, created_at, updated_at)
       values ($1, $2, $3, 'USD', $4, $5, $6, $7, $8, $8)`,
      [id, o.userId, o.status, subtotal, o.taxBps ?? 0, tax, subtotal + tax, o.at],
    );
    for (const l of o.lines) {
      await sql(
        url,
        `insert into order_line (id, order_id, product_id, product_name, product_slug, unit_price_cents, quantity, line_total_cents)
         values ($1, $2, $3, 'snapshot', 'snapshot', $4, $5, $6)`,
        [uuidv7(), id, l.productId, l.priceCents, l.quantity, l.priceCents * l.quantity],
      );
    }
  }
}

describe('sales reports', () => {
  let api: TestApi;
  let worker: Awaited<ReturnType<typeof startTestWorker>>;
  let admin: TestUser;
  let customer: TestUser;
  const auth = (u: TestUser) => ({ authorization: `Bearer ${u.token}` });
  const download = (path: string, headers: Record<string, string> = {}) => fetch(`${api.baseUrl}${path}`, { headers });
  const ready = (id: string): Promise<Report> =>
    eventually(async () => {
      const r = await api.newClient({ token: () => admin.token }).reports.get.query({ id });
      return r.status === 'pending' ? null : r;
    }, 20_000);

  beforeAll(async () => {
    const config = { REPORT_CHUNK_BYTES: '256', REPORT_FETCH_ROWS: '3' };
    api = await startTestApi({ config });
    worker = await startTestWorker({ db: api.db, config });
    [admin] = (await createUsers(api.db.url, 1, { role: 'admin', prefix: 'radmin' })) as [TestUser];
    [customer] = (await createUsers(api.db.url, 1, { prefix: 'rcust' })) as [TestUser];
  });
  afterAll(async () => {
    await worker?.stop();
    await api?.close();
  });

  describe('the report CSV matches the orders table', () => {
    const from = new Date('2026-03-10T00:00:00Z');
    const to = new Date('2026-03-12T00:00:00Z');
    let products: Product[];

    beforeAll(async () => {
      const names = ['Oak mug', 'Lamp, "large"', '=SUM(A1) desk', 'Multi\nline', 'Plain pen'];
      products = [];
      for (const [i, name] of names.entries()) {
        products.push(await createProduct(api.db.url, { priceCents: 100 * (i + 1) + 99, stock: 0, name }));
      }
      const [p0, p1, p2, p3, p4] = products as [Product, Product, Product, Product, Product];
      const line = (p: { id: string }, quantity: number, priceCents: number) => ({
        productId: p.id,
        quantity,
        priceCents,
      });
      const u = customer.id;
      await insertOrders(api.db.url, [
        // Day one: paid and shipped count; cancelled, refunded, unpaid and failed do not.
        {
          userId: u,
          status: 'paid',
          at: '2026-03-10T00:00:00Z',
          lines: [line(p0, 2, 199), line(p1, 1, 299)],
          taxBps: 825,
        },
        { userId: u, status: 'shipped', at: '2026-03-10T13:30:00Z', lines: [line(p2, 3, 399)], taxBps: 825 },
        { userId: u, status: 'cancelled', at: '2026-03-10T14:00:00Z', lines: [line(p0, 9, 199)] },
        { userId: u, status: 'refunded', at: '2026-03-10T15:00:00Z', lines: [line(p1, 9, 299)] },
        { userId: u, status: 'pending_payment', at: '2026-03-10T16:00:00Z', lines: [line(p0, 9, 199)] },
        { userId: u, status: 'payment_failed', at: '2026-03-10T17:00:00Z', lines: [line(p0, 9, 199)] },
        // Day two: delivered counts; a price that changed shows the price charged.
        { userId: u, status: 'delivered', at: '2026-03-11T23:59:59.999Z', lines: [line(p0, 1, 150), line(p3, 4, 499)] },
        { userId: u, status: 'paid', at: '2026-03-11T08:00:00Z', lines: [line(p4, 1, 599), line(p1, 2, 299)] },
        // Outside [from, to).
        { userId: u, status: 'paid', at: '2026-03-09T23:59:59.999Z', lines: [line(p0, 5, 199)] },
        { userId: u, status: 'paid', at: '2026-03-12T00:00:00Z', lines: [line(p0, 5, 199)] },
      ]);
    });

    it('by day', async () => {
      const client = api.newClient({ token: () => admin.token });
      const requested = await client.reports.requestSales.mutate({ from, to, groupBy: 'day' });
      expect(requested).toMatchObject({ status: 'pending', requestedBy: admin.id, downloadUrl: null });
      const report = await ready(requested.id);
      expect(report.status).toBe('ready');
      const res = await download(report.downloadUrl!, auth(admin));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
      expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename=".+\.csv"$/);
      const text = await res.text();
      expect(Buffer.byteLength(text)).toBe(report.byteSize);
      const [header, ...rows] = parseCsv(text);
      expect(header).toEqual(['day', 'orders', 'units', 'revenue_cents', 'tax_cents', 'total_cents']);
      expect(rows).toHaveLength(report.rowCount!);

      // Independently: per order first (units from its lines), then per day, with the UTC day taken by
      // date_trunc on a UTC timestamp rather than to_char.
      const expected = await sql<Record<string, string>>(
        api.db.url,
        `select (date_trunc('day', o.created_at, 'UTC'))::date::text as day, count(*)::text as orders,
           sum(l.units)::text as units, sum(o.subtotal_cents)::text as revenue_cents,
           sum(o.tax_cents)::text as tax_cents, sum(o.total_cents)::text as total_cents
         from store_order o
         join (select order_id, sum(quantity) as units from order_line group by order_id) l on l.order_id = o.id
         where o.status = any($1) and o.created_at >= $2 and o.created_at < $3
         group by 1 order by 1`,
        [['paid', 'shipped', 'delivered'], from, to],
      );
      expect(rows.map((r) => Object.fromEntries(header!.map((h, i) => [h, r[i]])))).toEqual(expected);
      // And by hand: day one 2×199 + 299 = 697 (tax 58) and 3×399 = 1197 (tax 99); day two 150 + 4×499 = 2146
      // and 599 + 2×299 = 1197, untaxed.
      expect(rows).toEqual([
        ['2026-03-10', '2', '6', '1894', '157', '2051'],
        ['2026-03-11', '2', '8', '3343', '0', '3343'],
      ]);
    });

    it('by product, with names quoted and formulas defused', async () => {
      const client = api.newClient({ token: () => admin.token });
      const report = await ready((await client.reports.requestSales.mutate({ from, to, groupBy: 'product' })).id);
      const res = await download(report.downloadUrl!, auth(admin));
      const [header, ...rows] = parseCsv(await res.text());
      expect(header).toEqual(['product_id', 'product_name', 'orders', 'units', 'revenue_cents']);
      const expected = await sql<{
        product_id: string;
        product_name: string;
        orders: string;
        units: string;
        revenue_cents: string;
      }>(
        api.db.url,
        `select p.id as product_id, p.name as product_name, count(*)::text as orders,
           sum(l.quantity)::text as units, sum(l.unit_price_cents * l.quantity)::text as revenue_cents
         from order_line l join store_order o on o.id = l.order_id join product p on p.id = l.product_id
         where o.status in ('paid', 'shipped', 'delivered') and o.created_at >= $1 and o.created_at < $2
         group by p.id, p.name`,
        [from, to],
      );
      const defused = (name: string) => (/^[=+\-@]/.test(name) ? `'${name}` : name);
      expect(rows).toHaveLength(expected.length);
      expect(new Set(rows.map((r) => r.join('|')))).toEqual(
        new Set(
          expected.map((e) => [e.product_id, defused(e.product_name), e.orders, e.units, e.revenue_cents].join('|')),
        ),
      );
      // Highest revenue first.
      const revenue = rows.map((r) => Number(r[4]));
      expect(revenue).toEqual([...revenue].sort((a, b) => b - a));
      expect(rows.find((r) => r[1] === "'=SUM(A1) desk")).toBeDefined();
      expect(rows.find((r) => r[1] === 'Multi\nline')).toBeDefined();
      expect(rows.find((r) => r[1] === 'Lamp, "large"')).toEqual([products[1]!.id, 'Lamp, "large"', '2', '3', '897']);
      // Several chunks were written (REPORT_CHUNK_BYTES=256).
      const [{ chunks }] = (await sql<{ chunks: number }>(
        api.db.url,
        'select count(*)::int as chunks from report_chunk where report_id = $1',
        [report.id],
      )) as [{ chunks: number }];
      expect(chunks).toBeGreaterThan(1);
    });

    it('is an empty file with a header for a range without sales', async () => {
      const client = api.newClient({ token: () => admin.token });
      const report = await ready(
        (
          await client.reports.requestSales.mutate({
            from: new Date('2020-01-01T00:00:00Z'),
            to: new Date('2020-01-02T00:00:00Z'),
            groupBy: 'day',
          })
        ).id,
      );
      expect(report).toMatchObject({ status: 'ready', rowCount: 0 });
      const res = await download(report.downloadUrl!, auth(admin));
      expect(await res.text()).toBe('day,orders,units,revenue_cents,tax_cents,total_cents\r\n');
    });
  });

  it('refuses bad ranges with BAD_REQUEST', async () => {
    const client = api.newClient({ token: () => admin.token });
    const day = new Date('2026-01-01T00:00:00Z');
    for (const [from, to] of [
      [day, day],
      [new Date('2026-01-02T00:00:00Z'), day],
      [day, new Date(day.getTime() + 367 * 86_400_000)],
    ] as const) {
      await expect(client.reports.requestSales.mutate({ from, to, groupBy: 'day' })).rejects.toMatchObject({
        data: { code: 'BAD_REQUEST', appCode: 'VALIDATION_FAILED' },
      });
    }
    // A full leap year is allowed.
    await expect(
      client.reports.requestSales.mutate({ from: day, to: new Date(day.getTime() + 366 * 86_400_000), groupBy: 'day' }),
    ).resolves.toMatchObject({ status: 'pending' });
  });

  it('lists reports newest first, pages by cursor, and answers REPORT_NOT_FOUND for unknown ids', async () => {
    const client = api.newClient({ token: () => admin.token });
    const all = await client.reports.list.query({ limit: 100 });
    expect(all.items.length).toBeGreaterThanOrEqual(3);
    const ids = all.items.map((r) => r.id);
    expect(ids).toEqual([...ids].sort().reverse());
    const first = await client.reports.list.query({ limit: 2 });
    const second = await client.reports.list.query({ limit: 2, cursor: first.nextCursor! });
    expect([...first.items, ...second.items].map((r) => r.id)).toEqual(ids.slice(0, 4));
    await expect(client.reports.get.query({ id: uuidv7() })).rejects.toMatchObject({
      data: { code: 'NOT_FOUND', appCode: 'REPORT_NOT_FOUND' },
    });
  });

  it('serves the file to admins only: 401, 403, 404, 409', async () => {
    const client = api.newClient({ token: () => admin.token });
    const report = await ready(
      (
        await client.reports.requestSales.mutate({
          from: new Date('2026-03-10T00:00:00Z'),
          to: new Date('2026-03-11T00:00:00Z'),
          groupBy: 'day',
        })
      ).id,
    );
    const path = report.downloadUrl!;
    expect(path).toBe(`/reports/${report.id}.csv`);
    expect((await download(path)).status).toBe(401);
    expect((await download(path, { authorization: 'Bearer nonsense' })).status).toBe(401);
    const forbidden = await download(path, auth(customer));
    expect(forbidden.status).toBe(403);
    expect(await forbidden.json()).toMatchObject({ appCode: 'FORBIDDEN' });
    expect((await download(`/reports/${uuidv7()}.csv`, auth(admin))).status).toBe(404);
    expect((await download('/reports/not-a-uuid.csv', auth(admin))).status).toBe(404);
    // The browser's way: the session cookie.
    const cookie = await download(path, { cookie: `keelson_session=${admin.token}` });
    expect(cookie.status).toBe(200);
    expect(await cookie.text()).toMatch(/^day,/);
    // Pending: no file yet (the report is inserted without a job, so it stays pending).
    const pendingId = uuidv7();
    await sql(
      api.db.url,
      `insert into report (id, kind, status, params, created_at) values ($1, 'sales', 'pending', '{"from":"2026-01-01T00:00:00Z","to":"2026-01-02T00:00:00Z","groupBy":"day"}', now())`,
      [pendingId],
    );
    const pending = await download(`/reports/${pendingId}.csv`, auth(admin));
    expect(pending.status).toBe(409);
    expect(await pending.json()).toMatchObject({ appCode: 'REPORT_NOT_READY' });
  });

  it('marks a report failed after its last attempt, and keeps the cause out of the report', async () => {
    const id = uuidv7();
    await sql(
      api.db.url,
      `insert into report (id, kind, status, params, created_at) values ($1, 'sales', 'pending', '{"groupBy":"week"}', now())`,
      [id],
    );
    await sql(
      api.db.url,
      `select graphile_worker.add_job('report__generate_sales', json_build_object('reportId', $1::text), max_attempts => 1)`,
      [id],
    );
    const [row] = await eventually(async () => {
      const rows = await sql<{ status: string; error: string | null }>(
        api.db.url,
        'select status, error from report where id = $1',
        [id],
      );
      return rows[0]?.status === 'failed' ? rows : null;
    });
    expect(row!.error).toMatch(/^Generation failed after 1 attempts; the worker's logs have the cause \(job \d+\)\.$/);
    expect(await sql(api.db.url, 'select 1 from report_chunk where report_id = $1', [id])).toEqual([]);
  });

  it('daily cron: reports the UTC day before the cron timestamp, by product', async () => {
    await sql(
      api.db.url,
      `select graphile_worker.add_job('report__daily_sales', '{"_cron":{"ts":"2026-03-11T00:10:00.000Z","backfilled":true}}'::json)`,
    );
    const [row] = await eventually(async () => {
      const rows = await sql<{ id: string; status: string; requested_by_id: string | null; params: unknown }>(
        api.db.url,
        `select id, status, requested_by_id, params from report where requested_by_id is null and status = 'ready'
           and params->>'groupBy' = 'product'`,
      );
      return rows.length ? rows : null;
    }, 20_000);
    expect(row!.params).toEqual({
      from: '2026-03-10T00:00:00.000Z',
      to: '2026-03-11T00:00:00.000Z',
      groupBy: 'product',
    });
    const text = await (await download(`/reports/${row!.id}.csv`, auth(admin))).text();
    // Day one's sales: three products, 2 + 1 + 3 units.
    const rows = parseCsv(text).slice(1);
    expect(rows.map((r) => Number(r[3])).reduce((a, b) => a + b, 0)).toBe(6);

    // The same cron run again (a retry, or a duplicate job) makes no second report of that day.
    await sql(
      api.db.url,
      `select graphile_worker.add_job('report__daily_sales', '{"_cron":{"ts":"2026-03-11T00:10:00.000Z","backfilled":true}}'::json)`,
    );
    await eventually(async () => {
      const jobs = await sql(
        api.db.url,
        `select 1 from graphile_worker.jobs where task_identifier = 'report__daily_sales'`,
      );
      return jobs.length === 0;
    }, 20_000);
    const daily = await sql(api.db.url, `select id from report where schedule_key = 'daily_sales:2026-03-10'`);
    expect(daily).toEqual([{ id: row!.id }]);
  });
});
