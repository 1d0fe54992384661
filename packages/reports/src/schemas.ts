import { reportKinds, reportStatuses } from '@keelson/db';
import { z } from 'zod';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Longest range one report may cover: a (leap) year. */
export const MAX_REPORT_RANGE_DAYS = 366;

export const salesGroupings = ['day', 'product'] as const;
export type SalesGrouping = (typeof salesGroupings)[number];

/** A report's parameters as stored in `report.params` (JSON: dates as ISO strings). */
export const salesParams = z.object({
  from: z.coerce.date(),
  to: z.coerce.date(),
  groupBy: z.enum(salesGroupings),
});
export type SalesParams = z.infer<typeof salesParams>;

/** `[from, to)`: sales of orders placed at or after `from` and before `to`. */
export const requestSalesInput = salesParams
  .refine((p) => p.from < p.to, { message: '`from` must be before `to`', path: ['to'] })
  .refine((p) => p.to.getTime() - p.from.getTime() <= MAX_REPORT_RANGE_DAYS * DAY_MS, {
    message: `A report covers at most ${MAX_REPORT_RANGE_DAYS} days`,
    path: ['to'],
  });
export type RequestSalesInput = z.infer<typeof requestSalesInput>;

export const reportDto = z.object({
  id: z.uuid(),
  kind: z.enum(reportKinds),
  status: z.enum(reportStatuses),
  params: salesParams,
  /** The admin who asked; null for the daily scheduled report. */
  requestedBy: z.uuid().nullable(),
  rowCount: z.number().int().nullable(),
  byteSize: z.number().int().nullable(),
  error: z.string().nullable(),
  createdAt: z.date(),
  completedAt: z.date().nullable(),
  /** Path of the CSV on the API (`/reports/<id>.csv`, admin session required) once ready; null before. */
  downloadUrl: z.string().nullable(),
});
export type ReportDto = z.infer<typeof reportDto>;

export const listReportsInput = z.object({
  /** The last id of the previous page. */
  cursor: z.uuid().optional(),
  limit: z.number().int().min(1).max(100).default(20),
});
export type ListReportsInput = z.input<typeof listReportsInput>;

export const reportPage = z.object({ items: z.array(reportDto), nextCursor: z.uuid().nullable() });
export type ReportPage = z.infer<typeof reportPage>;

export const reportIdInput = z.object({ id: z.uuid() });
