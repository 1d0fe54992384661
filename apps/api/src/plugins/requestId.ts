/**
 * Every request has an id, echoed in `x-request-id`: a proxy's own id is reused (Fastify reads the
 * header), so a request is traceable end to end, unless it could forge a log line.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

const REQUEST_ID = /^[\w.:-]{1,128}$/;

async function requestId(app: FastifyInstance) {
  app.addHook('onRequest', async (req, reply) => {
    if (!REQUEST_ID.test(req.id)) req.id = randomUUID();
    reply.header('x-request-id', req.id);
  });
}

export default fp(requestId, { name: 'keelson-request-id', fastify: '5.x' });
