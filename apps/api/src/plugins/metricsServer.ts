/**
 * `/metrics` off the public listener: a server of its own that answers nothing else, for Prometheus on
 * METRICS_HOST:METRICS_PORT (loopback by default; the compose network in docker compose), optionally
 * behind METRICS_TOKEN. The public port answers `/metrics` 404 like any unknown path, so no proxy rule
 * is needed to hide it. `buildApp` builds it, `main.ts` listens on it, closing the app closes it.
 */
import { type ApiMetrics, metricsRoute } from '@keelson/metrics';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    /** The API's private listener for Prometheus: `listen` on it with the config's `metrics.host`/`port`. */
    metricsServer: FastifyInstance;
  }
}

export interface MetricsServerOptions {
  metrics: ApiMetrics;
  /** METRICS_TOKEN, or null. */
  token: string | null;
  logger: FastifyBaseLogger;
}

async function metricsServer(app: FastifyInstance, opts: MetricsServerOptions) {
  const server = Fastify({
    loggerInstance: opts.logger.child({ listener: 'metrics' }),
    // A scrape every few seconds: only refusals and failures are worth a line.
    logController: new LogController({ disableRequestLogging: true }),
  });
  await server.register(metricsRoute, { metrics: opts.metrics, token: opts.token });
  app.decorate('metricsServer', server);
  // Closed with the app, not before: scrapes go on while a stopping app drains its requests.
  app.addHook('onClose', () => server.close());
}

export default fp(metricsServer, { name: 'keelson-metrics-server', fastify: '5.x' });
