/**
 * The web app (apps/web's Vite build, config `http.webDir`) on the API's own origin, so the session
 * cookie, CSRF check and CSP need no cross-origin exceptions.
 *
 * - Hashed files under `/assets/` are immutable for a year; everything else is revalidated (`no-cache`),
 *   so a deploy is seen at the next page load. Pre-compressed `.br`/`.gz` twins (written by the build)
 *   are sent to browsers that accept them.
 * - Any other GET of a path without a file extension is the app's (`index.html`; its router draws the
 *   page), except under the API's own prefixes, which keep their 404s: a mistyped procedure or report
 *   URL never answers 200 with HTML.
 * - Without a build, `/` answers the procedure list with a line saying how to build the app.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';

export interface WebAppOptions {
  /** The build directory (holding index.html), or null for none; a relative one is taken from `baseDir`. */
  dir: string | null;
  baseDir: string;
  /** What `/` shows when there is no build. */
  fallbackIndex: () => string;
}

/** Paths the API answers itself; the app's fallback never answers under them. */
export const API_PREFIXES = ['/trpc', '/auth', '/reports', '/metrics', '/healthz', '/readyz', '/assets'];
const IMMUTABLE = 'public, max-age=31536000, immutable';

const underApi = (url: string) => API_PREFIXES.some((p) => url === p || url.startsWith(`${p}/`));

export const webApp: FastifyPluginAsync<WebAppOptions> = async (app, opts) => {
  const root = opts.dir ? path.resolve(opts.baseDir, opts.dir) : null;
  if (!root || !existsSync(path.join(root, 'index.html'))) {
    if (root) app.log.warn({ webDir: root }, 'the web app is not built: serving the procedure list at /');
    app.get('/', (_req, reply) =>
      reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(opts.fallbackIndex()),
    );
    return;
  }
  await app.register(fastifyStatic, {
    root,
    // One route per file, listed at start-up, instead of a catch-all: the app's fallback below is the
    // catch-all, and a file added later is served after the next start (as after any deploy).
    wildcard: false,
    index: false,
    preCompressed: true,
    serveDotFiles: false,
    cacheControl: false,
    // The app's index is served by the fallback alone, with its own caching.
    allowedPath: (pathName) => pathName !== '/index.html',
    setHeaders: (reply, file) => {
      reply.header('cache-control', path.relative(root, file).startsWith(`assets${path.sep}`) ? IMMUTABLE : 'no-cache');
    },
  });
  const index = (_req: FastifyRequest, reply: FastifyReply) =>
    reply.header('cache-control', 'no-cache').sendFile('index.html', root, { cacheControl: false });
  app.get('/', index);
  app.get('/*', (req, reply) => {
    const url = req.url.split('?')[0] ?? '/';
    const last = url.slice(url.lastIndexOf('/') + 1);
    // A file that is not there (`/logo.png`, `/assets/old-hash.js` after a deploy) is a 404, not the app.
    if (underApi(url) || last.includes('.')) return reply.callNotFound();
    return index(req, reply);
  });
};
