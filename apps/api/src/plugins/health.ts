/**
 * `/healthz` is about the process (it answers while it runs); `/readyz` about serving: not stopping,
 * every migration applied, the database answering and the pool not stuck, within a second (it pings on
 * a connection of its own).
 */
import type { Config } from '@keelson/config';
import { type MikroORM, readinessProbe } from '@keelson/db';
import type { FastifyInstance } from 'fastify';

export interface HealthOptions {
  orm: MikroORM;
  database: Config['database'];
}

export async function health(app: FastifyInstance, { orm, database }: HealthOptions) {
  app.get('/healthz', async () => ({ status: 'ok' }));

  const readiness = readinessProbe(orm, {
    url: database.url ?? String(orm.config.get('clientUrl')),
    stuckAfterMs: database.acquireTimeoutMs,
  });
  app.addHook('onClose', () => readiness.close());
  app.get('/readyz', async (_req, reply) => {
    if (app.draining) return reply.code(503).send({ status: 'shutting down' });
    const { ready, body, error } = await readiness.check();
    if (error) reply.log.warn({ err: error }, 'readiness check failed');
    return ready ? body : reply.code(503).send(body);
  });
}
