/**
 * What a route outside tRPC answers when it throws: 503 DATABASE_UNAVAILABLE with Retry-After for a lost
 * database, the message for a 4xx, and for anything else a generic message with the request id (the
 * detail goes to the log). Fastify's default would send `error.message` on a 500. Registered before any
 * other route plugin: a plugin keeps the handler that was current when it was added.
 */
import { isDatabaseUnavailable } from '@keelson/db';
import { coerceError, errorCatalogue } from '@keelson/errors';
import { DATABASE_RETRY_AFTER_S } from '@keelson/trpc';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

async function errorHandler(app: FastifyInstance) {
  app.setErrorHandler((thrown: unknown, req, reply) => {
    // Whatever a route threw (a string, a plain object), from here on it is an Error.
    const error: Error & { statusCode?: number } = coerceError(thrown);
    if (isDatabaseUnavailable(error)) {
      req.log.warn({ err: error }, 'database unavailable');
      return reply.code(503).header('retry-after', String(DATABASE_RETRY_AFTER_S)).send({
        error: errorCatalogue.DATABASE_UNAVAILABLE.message,
        appCode: 'DATABASE_UNAVAILABLE',
        requestId: req.id,
      });
    }
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) req.log.error({ err: error }, 'unhandled error');
    return reply.code(status).send({
      error: status === 500 ? `Internal server error (request id ${req.id})` : error.message,
      requestId: req.id,
    });
  });
}

export default fp(errorHandler, { name: 'keelson-error-handler', fastify: '5.x' });
