/**
 * Asking for reports, reading their status and streaming their file. Generation itself is in
 * `sales.ts` and runs in the worker.
 */
import { type Database, type ReportStatus, rowDate, uuidv7 } from '@keelson/db';
import { AppError } from '@keelson/errors';
import { enqueue } from '@keelson/jobs';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import {
  type ListReportsInput,
  listReportsInput,
  type ReportDto,
  type ReportPage,
  type SalesParams,
  salesParams,
} from './schemas.ts';

/** Typed SQL on the entities' tables, in `em`'s transaction when it has one. */
const kysely = (em: EntityManager) => em.getKysely<Database>();

/** A row of `COLUMNS`; timestamps arrive as text from MikroORM's connection (see `rowDate`). */
interface ReportRow {
  id: string;
  kind: 'sales';
  status: ReportStatus;
  params: unknown;
  requested_by_id: string | null;
  row_count: number | null;
  // bigint: the driver returns a string.
  byte_size: string | number | null;
  error: string | null;
  created_at: string | Date;
  completed_at: string | Date | null;
}

const COLUMNS = [
  'id',
  'kind',
  'status',
  'params',
  'requested_by_id',
  'row_count',
  'byte_size',
  'error',
  'created_at',
  'completed_at',
] as const;

/** Where the API serves a ready report (see apps/api/src/reportRoutes.ts). */
export function reportDownloadPath(id: string): string {
  return `/reports/${id}.csv`;
}

function toDto(em: EntityManager, r: ReportRow): ReportDto {
  return {
    id: r.id,
    kind: r.kind,
    status: r.status,
    params: salesParams.parse(r.params),
    requestedBy: r.requested_by_id,
    rowCount: r.row_count,
    byteSize: r.byte_size === null ? null : Number(r.byte_size),
    error: r.error,
    createdAt: rowDate(em, r.created_at),
    completedAt: r.completed_at === null ? null : rowDate(em, r.completed_at),
    downloadUrl: r.status === 'ready' ? reportDownloadPath(r.id) : null,
  };
}

/**
 * Creates a pending sales report and enqueues its generation in one transaction: the job never runs
 * for a report that was not saved, and a saved report always gets its job.
 */
export async function requestSalesReport(
  em: EntityManager,
  input: { params: SalesParams; requestedBy: string | null; scheduleKey?: string },
): Promise<ReportDto> {
  return em.transactional(async (tx) => {
    const db = kysely(tx);
    const id = uuidv7();
    const params = {
      from: input.params.from.toISOString(),
      to: input.params.to.toISOString(),
      groupBy: input.params.groupBy,
    };
    const scheduleKey = input.scheduleKey ?? null;
    const row = await db
      .insertInto('report')
      .values({
        id,
        kind: 'sales',
        status: 'pending',
        params: sql`${JSON.stringify(params)}::jsonb`,
        requested_by_id: input.requestedBy,
        schedule_key: scheduleKey,
        created_at: sql`now()`,
      })
      .onConflict((oc) => oc.column('schedule_key').doNothing())
      .returning(COLUMNS)
      .executeTakeFirst();
    if (!row) {
      // This scheduled run already made its report (the job is a retry or a duplicate): that one stands.
      const existing = await db
        .selectFrom('report')
        .select(COLUMNS)
        .where('schedule_key', '=', scheduleKey)
        .executeTakeFirstOrThrow();
      return toDto(tx, existing);
    }
    await enqueue(tx, 'report__generate_sales', { reportId: id });
    return toDto(tx, row);
  });
}

export async function getReport(em: EntityManager, id: string): Promise<ReportDto> {
  const row = await kysely(em).selectFrom('report').select(COLUMNS).where('id', '=', id).executeTakeFirst();
  if (!row) throw new AppError('REPORT_NOT_FOUND', { details: { id } });
  return toDto(em, row);
}

/** Every report, newest first (keyset on the UUIDv7 id). */
export async function listReports(em: EntityManager, raw: ListReportsInput): Promise<ReportPage> {
  const input = listReportsInput.parse(raw);
  let query = kysely(em).selectFrom('report').select(COLUMNS);
  if (input.cursor) query = query.where('id', '<', input.cursor);
  const rows = await query
    .orderBy('id', 'desc')
    .limit(input.limit + 1)
    .execute();
  const items = rows.slice(0, input.limit).map((r) => toDto(em, r));
  return { items, nextCursor: rows.length > input.limit ? (items.at(-1)?.id ?? null) : null };
}

export interface ReportDownload {
  report: ReportDto;
  /** The CSV, chunk by chunk, read a few chunks per query so memory stays flat whatever the size. */
  chunks: AsyncGenerator<string>;
}

const CHUNKS_PER_QUERY = 8;

/**
 * A ready report and its file. REPORT_NOT_FOUND for an unknown id, REPORT_NOT_READY while pending or
 * after it failed. A ready report never changes, so reading its chunks over several queries is safe.
 */
export async function openReportDownload(em: EntityManager, id: string): Promise<ReportDownload> {
  const report = await getReport(em, id);
  if (report.status !== 'ready') throw new AppError('REPORT_NOT_READY', { details: { id, status: report.status } });
  async function* chunks(): AsyncGenerator<string> {
    let after = -1;
    for (;;) {
      const rows = await kysely(em)
        .selectFrom('report_chunk')
        .select(['seq', 'data'])
        .where('report_id', '=', id)
        .where('seq', '>', after)
        .orderBy('seq')
        .limit(CHUNKS_PER_QUERY)
        .execute();
      for (const row of rows) yield row.data;
      if (rows.length < CHUNKS_PER_QUERY) return;
      after = rows.at(-1)!.seq;
    }
  }
  return { report, chunks: chunks() };
}
