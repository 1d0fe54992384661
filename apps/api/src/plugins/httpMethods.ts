/**
 * 405 Method Not Allowed, with the `Allow` header RFC 9110 requires, for a method the target does not
 * answer; `OPTIONS` answers 204 with `Allow`. Fastify answers 404 to any method a path has no route for,
 * and tRPC's catch-all route took TRACE (and any method Fastify knows) into the adapter, whose `new
 * Request()` throws on TRACE: a 500.
 *
 * - `/trpc/<procedures>`: queries and subscriptions answer GET and HEAD, mutations POST. Other methods
 *   are refused here; a GET/POST mix-up is left to tRPC (it answers 405 in its own error shape, with
 *   appCode METHOD_NOT_ALLOWED) and gets its `Allow` header here. An unknown procedure answers what
 *   tRPC's route does (GET, HEAD, POST), and over those tRPC's 404.
 * - Any other path: the methods its routes answer. A path with no route at all stays a 404.
 * - CORS preflights (`OPTIONS` with `Access-Control-Request-Method`) are never answered here: they
 *   belong to whatever handles CORS. The catch-all `OPTIONS *` route @fastify/cors adds for them counts as
 *   no route, so that any other OPTIONS still gets its Allow and a path without routes its 404.
 *
 * CONNECT and methods Node's parser does not know never reach Fastify (Node closes, or answers 400).
 */
import { errorCatalogue } from '@keelson/errors';
import type { AnyTRPCRouter } from '@trpc/server';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';

export interface HttpMethodsOptions {
  /** Where tRPC serves `router` over HTTP: its routes are `${prefix}/:path`. */
  trpc: { prefix: string; router: AnyTRPCRouter };
}

const BY_TYPE = { query: ['GET', 'HEAD'], subscription: ['GET', 'HEAD'], mutation: ['POST'] } as const;
/** What tRPC's route answers at all: for a path naming an unknown procedure (tRPC's own 404 over GET or POST). */
const TRPC_METHODS = ['GET', 'HEAD', 'POST'];

/** The methods every procedure of a (batched) path answers. */
function trpcAllow(router: AnyTRPCRouter, path: string): string[] {
  let allow: string[] | null = null;
  for (const name of path.split(',')) {
    const procedure = router._def.procedures[name] as { _def: { type: keyof typeof BY_TYPE } } | undefined;
    if (!procedure) return TRPC_METHODS;
    const methods: readonly string[] = BY_TYPE[procedure._def.type];
    allow = allow ? allow.filter((m) => methods.includes(m)) : [...methods];
  }
  // A batch mixing queries and mutations answers no method; tRPC says so on GET and POST.
  return allow?.length ? allow : TRPC_METHODS;
}

/** The route @fastify/cors registers so that Fastify accepts preflights, which it answers in a hook. */
const CORS_PREFLIGHT_ROUTE = '*';

/** The route pattern a request matched; undefined for none, and for the CORS plugin's catch-all. */
function routeOf(req: FastifyRequest): string | undefined {
  const url = req.routeOptions.url;
  return req.method === 'OPTIONS' && url === CORS_PREFLIGHT_ROUTE ? undefined : url;
}

/**
 * The methods Fastify has a route for at this URL (the same lookup its router does for a request).
 * OPTIONS is left out: it is always allowed (see allowHeader), and the CORS catch-all matches any path.
 */
function routeAllow(app: FastifyInstance, url: string): string[] {
  return app.supportedMethods
    .filter((method) => method !== 'OPTIONS' && app.findRoute({ method, url }) !== null)
    .sort();
}

/** The Allow header: OPTIONS is answered here, so it is allowed too. */
const allowHeader = (allow: string[]) => [...new Set([...allow, 'OPTIONS'])].join(', ');

function refuse(req: FastifyRequest, reply: FastifyReply, allow: string[]) {
  reply.header('allow', allowHeader(allow));
  if (req.method === 'OPTIONS') return reply.code(204).send();
  return reply
    .code(405)
    .header('cache-control', 'private, no-store')
    .send({ error: errorCatalogue.METHOD_NOT_ALLOWED.message, appCode: 'METHOD_NOT_ALLOWED', requestId: req.id });
}

const plugin: FastifyPluginAsync<HttpMethodsOptions> = async (app, opts) => {
  const { prefix, router } = opts.trpc;
  const trpcRoute = `${prefix}/:path`;
  /**
   * The procedures a request to tRPC's route names, or null for any other path. Also for a method
   * Fastify has no route for at all (PROPFIND, MKCOL…): tRPC's catch-all only covers the ones it knows.
   */
  const trpcPath = (req: FastifyRequest): string | null => {
    const route = routeOf(req);
    if (route === trpcRoute) return (req.params as { path?: string }).path ?? '';
    if (route !== undefined) return null;
    const pathname = req.url.split('?')[0] ?? '';
    const rest = pathname.startsWith(`${prefix}/`) ? pathname.slice(prefix.length + 1) : null;
    if (!rest || rest.includes('/')) return null;
    try {
      return decodeURIComponent(rest);
    } catch {
      return rest;
    }
  };

  app.addHook('onRequest', async (req, reply) => {
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) return;
    const path = trpcPath(req);
    if (path !== null) {
      // tRPC answers these itself, refusals included (see onSend for their Allow header).
      if (req.method === 'GET' || req.method === 'POST') return;
      const allow = trpcAllow(router, path);
      if (!allow.includes(req.method)) return refuse(req, reply, allow);
      return;
    }
    // No route for this method here: 405 if the path has routes for other methods, else the 404.
    if (routeOf(req) === undefined) {
      const allow = routeAllow(app, req.url);
      if (allow.length) return refuse(req, reply, allow);
    }
  });

  app.addHook('onSend', async (req, reply, payload) => {
    // tRPC's adapter sends a fetch Response, whose status Fastify applies only after this hook.
    const status = payload instanceof Response ? payload.status : reply.statusCode;
    if (status !== 405 || reply.hasHeader('allow')) return;
    const path = trpcPath(req);
    if (path !== null) reply.header('allow', allowHeader(trpcAllow(router, path)));
  });
};

// What fastify-plugin does: the hooks apply to the whole app, not to an encapsulated child (whose only
// routes would be its own). Set by hand to keep the plugin free of another dependency.
Object.assign(plugin, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'httpMethods' });

export const httpMethods = plugin;
