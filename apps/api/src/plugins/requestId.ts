/**
 * Every request has an id, echoed in `x-request-id`: a proxy's own id is reused (Fastify reads the
 * header), so a request is traceable end to end, unless it could forge a log line. With tracing on, the
 * HTTP server span is named by the request's route pattern (`POST /trpc/:path`) and carries it as
 * `http.route`, through the metadata instrumentation-http reads when the span ends; without tracing
 * there is no metadata and this does nothing.
 */
import { randomUUID } from 'node:crypto';
import { context } from '@opentelemetry/api';
import { getRPCMetadata, RPCType } from '@opentelemetry/core';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

const REQUEST_ID = /^[\w.:-]{1,128}$/;

async function requestId(app: FastifyInstance) {
  app.addHook('onRequest', async (req, reply) => {
    if (!REQUEST_ID.test(req.id)) req.id = randomUUID();
    reply.header('x-request-id', req.id);
    const rpc = getRPCMetadata(context.active());
    if (rpc?.type === RPCType.HTTP && req.routeOptions.url) rpc.route = req.routeOptions.url;
  });
}

export default fp(requestId, { name: 'keelson-request-id', fastify: '5.x' });
