/**
 * Sales report generation (run by the worker).
 *
 * What counts as a sale: an order placed (`store_order.created_at`) in `[from, to)` whose status is
 * `paid`, `shipped` or `delivered`, i.e. money taken and kept. Refunded orders are left out (their
 * money went back), as are cancelled ones (a paid order cancelled is refunded too), unpaid
 * (`pending_payment`) and `payment_failed` ones. Amounts are the order's snapshots at checkout:
 * `revenue_cents` is the subtotal (before tax), so `total_cents = revenue_cents + tax_cents`.
 *
 * - by day (UTC): `day,orders,units,revenue_cents,tax_cents,total_cents`; days without sales have no row.
 * - by product: `product_id,product_name,orders,units,revenue_cents`, highest revenue first. Tax is
 *   computed per order on its subtotal, so a per-product tax would be invented: it is not shown.
 *   The name is the product's current name.
 *
 * Large ranges stream: the rows are read through a server-side cursor, `fetchRows` at a time, and the
 * CSV goes to `report_chunk` about `chunkBytes` at a time, so the worker holds one batch and one chunk,
 * never the whole file. Cursor, chunks and the `ready` mark share one transaction: a failed attempt
 * leaves nothing behind, and a second run of a finished report does nothing.
 */
import type { Database } from '@keelson/db';
import { notifyReportReady } from '@keelson/notifications';
import type { EntityManager } from '@mikro-orm/postgresql';
import { type RawBuilder, sql } from 'kysely';
import { type CsvValue, csvLine } from './csv.ts';
import { reportDownloadPath, requestSalesReport } from './reports.ts';
import { type ReportDto, type SalesGrouping, salesParams } from './schemas.ts';

/** Orders whose money was taken and kept. */
export const SALE_STATUSES = ['paid', 'shipped', 'delivered'] as const;
/** The statuses as SQL literals, as they always were: constants of the code, not parameters. */
const SALE_STATUS_SQL = sql.join(SALE_STATUSES.map((s) => sql.lit(s)));

/** Typed SQL on the entities' tables, in `em`'s transaction when it has one. */
const kysely = (em: EntityManager) => em.getKysely<Database>();

interface SalesQuery {
  header: string[];
  /** The rows of `[from, to)`, for the cursor (a DECLARE takes its query as SQL, hence a template). */
  sql: (from: Date, to: Date) => RawBuilder<unknown>;
  row: (r: Record<string, unknown>) => CsvValue[];
}

const queries: Record<SalesGrouping, SalesQuery> = {
  day: {
    header: ['day', 'orders', 'units', 'revenue_cents', 'tax_cents', 'total_cents'],
    sql: (from, to) => sql`select to_char(o.created_at at time zone 'UTC', 'YYYY-MM-DD') as day, count(*) as orders,
        coalesce(sum(u.units), 0) as units, sum(o.subtotal_cents) as revenue_cents,
        sum(o.tax_cents) as tax_cents, sum(o.total_cents) as total_cents
      from store_order o
      cross join lateral (select sum(l.quantity) as units from order_line l where l.order_id = o.id) u
      where o.status in (${SALE_STATUS_SQL}) and o.created_at >= ${from} and o.created_at < ${to}
      group by 1 order by 1`,
    row: (r) => [r.day, r.orders, r.units, r.revenue_cents, r.tax_cents, r.total_cents] as CsvValue[],
  },
  product: {
    header: ['product_id', 'product_name', 'orders', 'units', 'revenue_cents'],
    sql: (from, to) => sql`select l.product_id, p.name as product_name, count(distinct o.id) as orders,
        sum(l.quantity) as units, sum(l.line_total_cents) as revenue_cents
      from store_order o
      join order_line l on l.order_id = o.id
      join product p on p.id = l.product_id
      where o.status in (${SALE_STATUS_SQL}) and o.created_at >= ${from} and o.created_at < ${to}
      group by l.product_id, p.name order by revenue_cents desc, l.product_id`,
    row: (r) => [r.product_id, r.product_name, r.orders, r.units, r.revenue_cents] as CsvValue[],
  },
};

export interface GenerateOptions {
  reportId: string;
  /** Target size of one stored chunk, bytes (REPORT_CHUNK_BYTES). Chunks end at line ends. */
  chunkBytes: number;
  /** Rows fetched from the cursor at a time (REPORT_FETCH_ROWS). */
  fetchRows: number;
}

export type GenerateResult =
  | { outcome: 'ready'; rowCount: number; byteSize: number; chunkCount: number; batches: number }
  | { outcome: 'missing' }
  | { outcome: 'already_done' };

export async function generateSalesReport(em: EntityManager, opts: GenerateOptions): Promise<GenerateResult> {
  return em.transactional(async (tx) => {
    const db = kysely(tx);
    // The row lock makes concurrent runs of one report (a retry racing a slow first attempt) queue up.
    const report = await db
      .selectFrom('report')
      .select(['status', 'params', 'requested_by_id'])
      .where('id', '=', opts.reportId)
      .forUpdate()
      .executeTakeFirst();
    if (!report) return { outcome: 'missing' };
    if (report.status !== 'pending') return { outcome: 'already_done' };
    const params = salesParams.parse(report.params);
    const query = queries[params.groupBy];

    await db.deleteFrom('report_chunk').where('report_id', '=', opts.reportId).execute();
    await sql`declare report_sales no scroll cursor for ${query.sql(params.from, params.to)}`.execute(db);

    let chunk: string[] = [];
    let chunkSize = 0;
    let chunkCount = 0;
    let byteSize = 0;
    let rowCount = 0;
    let batches = 0;
    const flush = async () => {
      if (!chunk.length) return;
      await db
        .insertInto('report_chunk')
        .values({ report_id: opts.reportId, seq: chunkCount++, data: chunk.join('') })
        .execute();
      chunk = [];
      chunkSize = 0;
    };
    const write = async (line: string) => {
      const bytes = Buffer.byteLength(line);
      chunk.push(line);
      chunkSize += bytes;
      byteSize += bytes;
      if (chunkSize >= opts.chunkBytes) await flush();
    };

    await write(csvLine(query.header));
    for (;;) {
      // FETCH takes no parameters: the count is SQL text (a number of the worker's settings).
      const { rows } = await sql<Record<string, unknown>>`
        fetch forward ${sql.lit(Math.trunc(opts.fetchRows))} from report_sales`.execute(db);
      if (!rows.length) break;
      batches++;
      for (const r of rows) await write(csvLine(query.row(r)));
      rowCount += rows.length;
      if (rows.length < opts.fetchRows) break;
    }
    await flush();
    await sql`close report_sales`.execute(db);
    await db
      .updateTable('report')
      .set({
        status: 'ready',
        row_count: rowCount,
        byte_size: byteSize,
        chunk_count: chunkCount,
        error: null,
        completed_at: sql`now()`,
      })
      .where('id', '=', opts.reportId)
      .execute();
    // The admin who asked hears of it with the same commit; scheduled reports have nobody to tell.
    if (report.requested_by_id) {
      await notifyReportReady(tx, {
        reportId: opts.reportId,
        requestedBy: report.requested_by_id,
        rowCount,
        downloadUrl: reportDownloadPath(opts.reportId),
      });
    }
    return { outcome: 'ready', rowCount, byteSize, chunkCount, batches };
  });
}

/** Marks a report failed (after its job's last attempt); a report already ready stays ready. */
export async function markReportFailed(em: EntityManager, input: { reportId: string; error: string }): Promise<void> {
  await kysely(em)
    .updateTable('report')
    .set({ status: 'failed', error: input.error.slice(0, 1000), completed_at: sql`now()` })
    .where('id', '=', input.reportId)
    .where('status', '=', 'pending')
    .execute();
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The daily report: sales by product over the UTC day before `at` (the cron's timestamp, so a
 * backfilled run reports its own day). Creates the report and enqueues its generation together.
 */
export async function scheduleDailySalesReport(em: EntityManager, at: Date): Promise<ReportDto> {
  const to = new Date(Math.floor(at.getTime() / DAY_MS) * DAY_MS);
  const from = new Date(to.getTime() - DAY_MS);
  return requestSalesReport(em, {
    params: { from, to, groupBy: 'product' },
    requestedBy: null,
    scheduleKey: `daily_sales:${from.toISOString().slice(0, 10)}`,
  });
}
