/**
 * Security headers on every response (helmet), with a Content-Security-Policy for the web app the API
 * will serve on its own origin (PUBLIC_URL): a React + Vite build whose scripts, styles, fonts and
 * images are files of that origin. Registered first, so that responses sent by later hooks (a refused
 * WebSocket origin) and errors and 404s carry them too: helmet sets them on the raw response at
 * `onRequest`, which Fastify keeps whatever answers the request, tRPC's SSE streams included.
 */
import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

export interface SecurityHeadersOptions {
  /** Origin users reach the app at (config `auth.publicUrl`): its WebSocket origin and whether to send HSTS. */
  publicUrl: string;
}

/** HSTS lifetime, seconds: a year, what browsers' preload lists ask for (not preloaded here). */
const HSTS_MAX_AGE_S = 365 * 24 * 60 * 60;

/** The web app's CSP, on every response: one policy for its pages and for any API answer a browser opens. */
function contentSecurityPolicy(publicUrl: string): Record<string, string[]> {
  const url = new URL(publicUrl);
  const https = url.protocol === 'https:';
  return {
    'default-src': ["'self'"],
    'script-src': ["'self'"],
    // No inline event handlers (`onclick=`), React attaches none.
    'script-src-attr': ["'none'"],
    // Vite emits stylesheets as files; React's `style={…}` goes through the CSSOM, which CSP allows.
    'style-src': ["'self'"],
    // Vite inlines small images and fonts as data: URLs (build.assetsInlineLimit, 4 KiB by default).
    // Product images are https: URLs of wherever the shop keeps them (a CDN, a bucket): an image runs
    // no code, so any https: origin may serve one.
    'img-src': ["'self'", 'data:', 'https:'],
    'font-src': ["'self'", 'data:'],
    // tRPC subscriptions over WebSocket: 'self' covers ws(s) of the page's origin only in CSP Level 3
    // browsers (older Safari does not), so PUBLIC_URL's WebSocket origin is named too.
    'connect-src': ["'self'", `${https ? 'wss' : 'ws'}://${url.host}`],
    'object-src': ["'none'"],
    'base-uri': ["'self'"],
    // OIDC sign-in starts with a link (a navigation), not a form: nothing posts elsewhere.
    'form-action': ["'self'"],
    'frame-ancestors': ["'none'"],
    // Over HTTPS a stray http:// reference is upgraded rather than blocked as mixed content.
    ...(https ? { 'upgrade-insecure-requests': [] } : {}),
  };
}

async function securityHeaders(app: FastifyInstance, opts: SecurityHeadersOptions) {
  const https = new URL(opts.publicUrl).protocol === 'https:';
  await app.register(helmet, {
    global: true,
    contentSecurityPolicy: { useDefaults: false, directives: contentSecurityPolicy(opts.publicUrl) },
    // OIDC sign-in is a full-page redirect, never a popup, so the app needs no opener across origins.
    crossOriginOpenerPolicy: { policy: 'same-origin' },
    crossOriginResourcePolicy: { policy: 'same-origin' },
    // Other origins get the origin alone, never a path or query (reset and verification links carry
    // tokens). Unlike no-referrer, it keeps the Origin of same-origin form posts, which the CSRF check
    // falls back to in browsers without Fetch Metadata.
    referrerPolicy: { policy: 'strict-origin-when-cross-origin' },
    frameguard: { action: 'deny' },
    // Over plain HTTP the header is meaningless (browsers ignore it) and would only confuse.
    strictTransportSecurity: https ? { maxAge: HSTS_MAX_AGE_S, includeSubDomains: true } : false,
    xContentTypeOptions: true,
    xPoweredBy: true,
  });
}

export default fp(securityHeaders, { name: 'keelson-security-headers', fastify: '5.x' });
