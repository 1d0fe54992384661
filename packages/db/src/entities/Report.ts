import { defineEntity, p } from '@mikro-orm/core';
import { uuidv7 } from '../ids.ts';
import { User } from './User.ts';

export const reportStatuses = ['pending', 'ready', 'failed'] as const;
export type ReportStatus = (typeof reportStatuses)[number];

export const reportKinds = ['sales'] as const;
export type ReportKind = (typeof reportKinds)[number];

/**
 * A report an admin (or the daily cron) asked for. The worker writes its CSV into `report_chunk` and
 * marks it `ready` in the same transaction, so a ready report always has every chunk and a pending or
 * failed one has none. The file lives in PostgreSQL so every API replica can serve it.
 */
export const ReportSchema = defineEntity({
  name: 'Report',
  tableName: 'report',
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => uuidv7()),
    kind: p.enum(reportKinds),
    status: p.enum(reportStatuses).default('pending'),
    /** What was asked for (range, grouping), as validated by `@keelson/reports`. */
    params: p.json<Record<string, unknown>>(),
    /**
     * For scheduled reports, which run made it (`daily_sales:2026-11-20`): unique, so a retried or
     * duplicated cron job cannot make a second report of the same day. Null for reports admins ask for.
     */
    scheduleKey: p.string().length(100).nullable().unique(),
    /** The admin who asked; null for scheduled reports. */
    requestedBy: () => p.manyToOne(User).nullable().deleteRule('set null'),
    /** Data rows in the CSV (the header not counted); set when ready. */
    rowCount: p.integer().nullable(),
    /** Size of the CSV in bytes (UTF-8); set when ready. */
    byteSize: p.bigint('number').nullable(),
    chunkCount: p.integer().nullable(),
    /** Why generation failed, after its last attempt. */
    error: p.string().length(1000).nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    completedAt: p.datetime().nullable(),
  },
});

export class Report extends ReportSchema.class {}
ReportSchema.setClass(Report);

/** One piece of a report's CSV, in order (`seq` from 0); about REPORT_CHUNK_BYTES each, split at line ends. */
export const ReportChunkSchema = defineEntity({
  name: 'ReportChunk',
  tableName: 'report_chunk',
  properties: {
    report: () => p.manyToOne(Report).primary().deleteRule('cascade'),
    seq: p.integer().primary(),
    data: p.text(),
  },
});

export class ReportChunk extends ReportChunkSchema.class {}
ReportChunkSchema.setClass(ReportChunk);
