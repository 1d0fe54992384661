/**
 * `GET /reports/:id.csv`: a ready report's CSV, for admins. Not a tRPC procedure because a file is
 * streamed as it is read (chunk by chunk from `report_chunk`, never whole in memory) and a browser
 * saves it by following a link. The session comes from the cookie or `Authorization: Bearer`, as for
 * tRPC; a GET changes nothing, so no CSRF check is needed.
 *
 * 401 without a valid session, 403 for customers, 404 for an unknown report, 409 while it is pending
 * or after it failed. Errors are JSON `{ error, appCode, requestId }`.
 */
import { Readable } from 'node:stream';
import { type SessionConfig, validateSession } from '@keelson/auth';
import type { MikroORM } from '@keelson/db';
import { AppError, type AppErrorCode, errorCatalogue } from '@keelson/errors';
import { openReportDownload } from '@keelson/reports';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { credentialFromHeaders } from './requestInfo.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function sendError(req: FastifyRequest, reply: FastifyReply, code: AppErrorCode) {
  return reply
    .code(errorCatalogue[code].status)
    .header('cache-control', 'private, no-store')
    .send({ error: errorCatalogue[code].message, appCode: code, requestId: req.id });
}

export const reportRoutes: FastifyPluginAsync<{ orm: MikroORM; sessions: SessionConfig }> = async (app, deps) => {
  app.get<{ Params: { id: string } }>('/reports/:id.csv', async (req, reply) => {
    const credential = credentialFromHeaders(deps.sessions, req.headers);
    const em = deps.orm.em.fork();
    const valid = credential ? await validateSession(em, deps.sessions, credential.token) : null;
    if (!valid) return sendError(req, reply, 'UNAUTHENTICATED');
    if (valid.user.role !== 'admin') return sendError(req, reply, 'FORBIDDEN');
    if (!UUID.test(req.params.id)) return sendError(req, reply, 'REPORT_NOT_FOUND');
    try {
      const { report, chunks } = await openReportDownload(em, req.params.id);
      const day = (d: Date) => d.toISOString().slice(0, 10);
      const filename = `sales-by-${report.params.groupBy}-${day(report.params.from)}-${day(report.params.to)}-${report.id}.csv`;
      return reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${filename}"`)
        .header('content-length', String(report.byteSize ?? 0))
        .header('cache-control', 'private, no-store')
        .send(Readable.from(chunks, { objectMode: false }));
    } catch (err) {
      if (err instanceof AppError) return sendError(req, reply, err.code);
      throw err;
    }
  });
};
