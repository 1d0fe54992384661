/**
 * 400 for a Host header that names no host (`a b`, `[`, `%%`), as RFC 9112 §3.2 requires of a server.
 * Node only checks that HTTP/1.1 requests carry one; tRPC builds each request's URL from it and threw
 * "Invalid URL" outside its own error handling: a 500 over HTTP, and a WebSocket upgraded with no
 * handler behind it. WebSocket upgrades pass this hook too, so they are refused before the handshake.
 */
import type { errorCatalogue } from '@keelson/errors';
import type { FastifyPluginAsync } from 'fastify';

/** uri-host [":" port]: what `new URL` accepts as an authority, with nothing after it. */
export function isValidHost(host: string): boolean {
  return !/[\s/?#@\\]/.test(host) && URL.canParse(`http://${host}`);
}

const plugin: FastifyPluginAsync = async (app) => {
  app.addHook('onRequest', async (req, reply) => {
    const host = req.headers.host;
    if (host === undefined || isValidHost(host)) return;
    return reply.code(400).send({
      error: 'The Host header is not a valid host name.',
      appCode: 'VALIDATION_FAILED' satisfies keyof typeof errorCatalogue,
      requestId: req.id,
    });
  });
};

// The hook applies to the whole app (fastify-plugin's skip-override), not to an encapsulated child.
Object.assign(plugin, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'hostHeader' });

export const hostHeader = plugin;
