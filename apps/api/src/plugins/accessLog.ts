/**
 * One access-log line and one latency sample per request (Fastify's own request logging is off), and
 * the app's metrics registry as `app.metrics`, with the pool, job-queue and support-chat gauges it reads
 * on scrape.
 */
import { chatGauges } from '@keelson/chat';
import type { MikroORM } from '@keelson/db';
import { readQueueStats, taskNames } from '@keelson/jobs';
import { type ApiMetrics, UNMATCHED_ROUTE } from '@keelson/metrics';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    /** This app's metrics, served at `/metrics` by `metricsServer` (never on the public listener). */
    metrics: ApiMetrics;
  }
}

/**
 * Requests left out of `keelson_http_request_duration_seconds`: probes arrive every few seconds from
 * machines and would drown the latency of real traffic. (Scrapes go to the metrics listener.)
 */
const UNMEASURED_ROUTES = new Set(['/healthz', '/readyz']);

export interface AccessLogOptions {
  metrics: ApiMetrics;
  orm: MikroORM;
}

async function accessLog(app: FastifyInstance, { metrics, orm }: AccessLogOptions) {
  metrics.trackPool(() => orm.em.getConnection().getNativeClient());
  metrics.trackChat(() => chatGauges(orm.em.fork()));
  // The queue as the worker reports it, so that a dead worker shows as a growing queue and its alerts fire.
  metrics.trackQueue({
    query: () => readQueueStats(orm.em.fork()),
    // Every replica reads: once per 15 s scrape interval each, not per scrape of several Prometheus.
    cacheMs: 15_000,
    knownTasks: taskNames,
    onError: (err) => app.log.warn({ err }, 'queue metrics query failed'),
  });
  app.decorate('metrics', metrics);
  app.addHook('onResponse', async (req, reply) => {
    // The route pattern, never the URL: ids and a scanner's paths would each make a series of their own.
    const route = req.routeOptions.url ?? UNMATCHED_ROUTE;
    if (!UNMEASURED_ROUTES.has(route)) {
      metrics.observeHttpRequest({
        method: req.method,
        route,
        statusCode: reply.statusCode,
        seconds: reply.elapsedTime / 1000,
      });
    }
    req.log.info(
      { method: req.method, url: req.routeOptions.url, status: reply.statusCode, ms: reply.elapsedTime },
      'request',
    );
  });
}

export default fp(accessLog, { name: 'keelson-access-log', fastify: '5.x' });
