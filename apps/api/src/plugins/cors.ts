/**
 * CORS for web apps served from another origin: exactly the origins the CSRF check trusts (config
 * `auth.allowedOrigins`: PUBLIC_URL's and ALLOWED_ORIGINS) may read answers, with credentials (the
 * session cookie), on every route (tRPC, SSE streams, `/reports`, errors). Other origins get no
 * `Access-Control-*` header at all and their preflights answer 403: their pages can neither read an
 * answer nor send a request that needs a preflight (JSON mutations, a bearer token). A "simple"
 * cross-origin POST needs none; the CSRF check refuses those (CSRF_REJECTED), CORS does not replace it.
 *
 * Registered before httpMethods and tRPC's route, so that a preflight is answered here instead of
 * meeting their 405 and 415. WebSocket upgrades are no CORS requests: app.ts checks their Origin.
 */
import fastifyCors, { type FastifyCorsOptions } from '@fastify/cors';
import { errorCatalogue } from '@keelson/errors';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

export interface CorsOptions {
  /** Config `auth.allowedOrigins`: the origins whose pages may call the API with credentials. */
  allowedOrigins: readonly string[];
}

/**
 * How long a browser may reuse a preflight's answer, seconds: 2 hours, the most Chromium honours (Firefox
 * 24 h). Caching it trusts nothing longer: every actual answer carries its own Allow-Origin.
 */
const PREFLIGHT_MAX_AGE_S = 2 * 60 * 60;

/** What `@keelson/client` sends: procedures answer GET and HEAD (queries, SSE) or POST (mutations). */
const METHODS = ['GET', 'HEAD', 'POST'];

/**
 * The request headers a page may add. content-type: JSON mutations; authorization: bearer clients;
 * trpc-accept: httpBatchStreamLink; x-trpc-source: the tRPC convention naming the calling app;
 * last-event-id: an EventSource resuming its stream; x-request-id: correlation, which the API reuses.
 */
const ALLOWED_HEADERS = [
  'content-type',
  'authorization',
  'trpc-accept',
  'x-trpc-source',
  'last-event-id',
  'x-request-id',
];

/**
 * Answer headers a page may read beyond the CORS-safelisted ones: when to retry (429, 503), the request id
 * that support asks for, and a report's file name when a page downloads it with fetch.
 */
const EXPOSED_HEADERS = ['retry-after', 'x-request-id', 'content-disposition'];

async function cors(app: FastifyInstance, opts: CorsOptions) {
  const allowed = new Set(opts.allowedOrigins);
  const isAllowed = (origin: string | undefined) => origin !== undefined && allowed.has(origin);
  const common = {
    methods: METHODS,
    allowedHeaders: ALLOWED_HEADERS,
    exposedHeaders: EXPOSED_HEADERS,
    credentials: true,
    maxAge: PREFLIGHT_MAX_AGE_S,
  } satisfies FastifyCorsOptions;
  // Only an OPTIONS naming Access-Control-Request-Method is a preflight (Fetch standard); any other OPTIONS
  // goes on to httpMethods, which answers it with Allow.
  const preflight = { ...common, origin: true, preflight: true };
  const actual = { ...common, origin: true, preflight: false };
  const refused = { origin: false };
  await app.register(fastifyCors, {
    hook: 'onRequest',
    delegator: (req, cb) => {
      if (!isAllowed(req.headers.origin)) return cb(null, refused);
      cb(null, req.headers['access-control-request-method'] ? preflight : actual);
    },
  });

  // A preflight the plugin did not answer comes from an origin that is not allowed (or names none).
  app.addHook('onRequest', async (req, reply) => {
    if (req.method !== 'OPTIONS' || !req.headers['access-control-request-method']) return;
    return reply
      .code(403)
      .header('cache-control', 'private, no-store')
      .send({
        error: errorCatalogue.ORIGIN_NOT_ALLOWED.message,
        appCode: 'ORIGIN_NOT_ALLOWED' satisfies keyof typeof errorCatalogue,
        requestId: req.id,
      });
  });

  // tRPC answers with a web Response whose own Vary (trpc-accept, accept) Fastify copies over the reply's,
  // dropping the plugin's Origin: shared caches (public catalogue answers) would then hand one origin's
  // Allow-Origin to another.
  // Every answer, whatever the origin: the plugin adds none for one it refuses, and a cache must not hand
  // that answer (without Allow-Origin) to a listed origin either.
  const withOrigin = (vary: string) =>
    !vary ? 'Origin' : /(^|,)\s*(origin|\*)\s*(,|$)/i.test(vary) ? vary : `${vary}, Origin`;
  app.addHook('onSend', async (_req, reply, payload) => {
    if (payload instanceof Response) payload.headers.set('vary', withOrigin(payload.headers.get('vary') ?? ''));
    else reply.header('vary', withOrigin(String(reply.getHeader('vary') ?? '')));
  });
}

export default fp(cors, { name: 'keelson-cors', fastify: '5.x' });
