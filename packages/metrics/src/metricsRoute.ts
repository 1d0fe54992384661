/**
 * `GET /metrics` for a process's private listener (the API's METRICS_HOST:METRICS_PORT, the worker's
 * WORKER_HTTP_HOST:WORKER_HTTP_PORT), never a public one. With a token (METRICS_TOKEN) a scrape must carry
 * `Authorization: Bearer <token>`, as Prometheus' `authorization` setting sends it; otherwise 401.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import type { ProcessMetrics } from './registry.ts';

export interface MetricsRouteOptions {
  metrics: ProcessMetrics;
  /** The bearer token scrapes must present; null: none is asked for. No default: callers pass the config's. */
  token: string | null;
}

// Digests of equal length, so that comparing them in constant time reveals neither the token nor its length.
const digest = (value: string) => createHash('sha256').update(value).digest();

/** Whether an Authorization header carries the token whose digest is `expected`, compared in constant time. */
export function bearerTokenMatches(header: string | undefined, expected: Buffer): boolean {
  const presented = /^Bearer +(\S+) *$/i.exec(header ?? '')?.[1];
  return presented !== undefined && timingSafeEqual(digest(presented), expected);
}

export const metricsRoute: FastifyPluginAsync<MetricsRouteOptions> = async (app, opts) => {
  const expected = opts.token === null ? null : digest(opts.token);
  // Scrapes every few seconds would drown the logs; refusals are logged at warn all the same.
  app.get('/metrics', { logLevel: 'warn' }, async (req, reply) => {
    if (expected && !bearerTokenMatches(req.headers.authorization, expected)) {
      req.log.warn('metrics scrape refused: missing or wrong bearer token (METRICS_TOKEN)');
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="metrics"')
        .send({ error: 'A bearer token is required', requestId: req.id });
    }
    // OpenMetrics (with trace exemplars) when the scraper asks for it, else the Prometheus text format.
    const { contentType, body } = await opts.metrics.scrape(req.headers.accept);
    return reply.header('content-type', contentType).header('cache-control', 'no-store').send(body);
  });
};
