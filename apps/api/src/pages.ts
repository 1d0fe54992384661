/**
 * Something at the URLs people open before there is a web app: `/` and `/trpc` say what this is and
 * list the procedures; the pages the emails and the OIDC flow link to (`/verify-email`, `/reset-password`,
 * `/sign-in`, `/account`) work, as plain forms calling the same procedures a frontend calls. The web app
 * replaces them at the same paths.
 */
import { readFileSync } from 'node:fs';
import type { AnyTRPCRouter } from '@trpc/server';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, RouteHandlerMethod } from 'fastify';
import fp from 'fastify-plugin';

export interface PagesOptions {
  router: AnyTRPCRouter;
  /** Whether OIDC sign-in is configured: the sign-in page then offers it. */
  oidc: boolean;
}

// No inline script: the Content-Security-Policy allows scripts of this origin only.
const SCRIPT = readFileSync(new URL('./pages/browser.js', import.meta.url), 'utf8');

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Keelson</title>
<script type="module" src="/_pages/browser.js"></script>
</head>
<body>
<header><a href="/">Keelson</a> · <a href="/sign-in">Sign in</a> · <a href="/account">Account</a></header>
<main>
<h1>${escapeHtml(title)}</h1>
${body}
</main>
</body>
</html>
`;
}

interface ProcedureInfo {
  path: string;
  type: 'query' | 'mutation' | 'subscription';
}

function procedures(router: AnyTRPCRouter): ProcedureInfo[] {
  return Object.entries(router._def.procedures as Record<string, { _def: { type: ProcedureInfo['type'] } }>)
    .map(([path, p]) => ({ path, type: p._def.type }))
    .sort((a, b) => a.path.localeCompare(b.path));
}

function indexPage(list: ProcedureInfo[]): string {
  const rows = list.map((p) => `<tr><td><code>${escapeHtml(p.path)}</code></td><td>${p.type}</td></tr>`).join('\n');
  return page(
    'Keelson API',
    `<p>A typed backend: tRPC procedures over HTTP at <code>/trpc</code> (batched), WebSocket and Server-Sent Events.
Call them from TypeScript with <code>@keelson/client</code> (<code>createClient({ url: '/trpc' })</code>); the README shows each flow.</p>
<ul>
<li><a href="/sign-in">Sign in</a>, <a href="/account">your account</a></li>
<li><a href="/healthz">/healthz</a> (the process), <a href="/readyz">/readyz</a> (ready for traffic)</li>
<li><code>GET /trpc</code> with <code>Accept: application/json</code>: this list as JSON</li>
</ul>
<h2>${list.length} procedures</h2>
<table><thead><tr><th>Procedure</th><th>Type</th></tr></thead><tbody>
${rows}
</tbody></table>`,
  );
}

const FORMS = {
  verify: page(
    'Verify your email address',
    `<form data-action="verify-email"><button type="submit">Verify my address</button></form>
<p role="status" data-result></p>`,
  ),
  reset: page(
    'Choose a new password',
    `<form data-action="reset-password">
<label>New password <input type="password" name="password" autocomplete="new-password" minlength="12" required></label>
<button type="submit">Set the password</button>
</form>
<p role="status" data-result></p>`,
  ),
  signIn: (oidc: boolean) =>
    page(
      'Sign in',
      `<p role="alert" data-error></p>
<form data-action="sign-in">
<label>Email <input type="email" name="email" autocomplete="username" required></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button>
</form>
${oidc ? '<p><a href="/auth/oidc/start?returnTo=/account">Sign in with your provider</a></p>' : ''}
<p role="status" data-result></p>`,
    ),
  account: page(
    'Your account',
    `<p data-account>Loading…</p>
<form data-action="log-out" hidden><button type="submit">Log out</button></form>`,
  ),
};

const html = (reply: FastifyReply, body: string) =>
  reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(body);

/** The procedure list at `/trpc`: a page for a person, JSON for a program. */
function trpcIndex(router: AnyTRPCRouter): RouteHandlerMethod {
  const list = procedures(router);
  const index = indexPage(list);
  return (req, reply) => {
    if ((req.headers.accept ?? '').includes('text/html')) return html(reply, index);
    return reply.header('cache-control', 'no-cache').send({ procedures: list });
  };
}

/**
 * `GET /trpc` is tRPC's WebSocket route, where @fastify/websocket answers a request that is no upgrade
 * with an empty 404; this answers it with the procedure list instead. Register before tRPC's plugin
 * adds the route (an `onRoute` hook sees only routes added after it), and after @fastify/websocket
 * (whose own hook must have wrapped the handler first).
 */
export const trpcIndexRoute = fp<{ prefix: string; router: AnyTRPCRouter }>(async (app, opts) => {
  const index = trpcIndex(opts.router);
  app.addHook('onRoute', (route) => {
    if (route.url !== opts.prefix || !route.websocket) return;
    if ([route.method].flat().every((m) => m === 'HEAD')) {
      route.handler = index;
      return;
    }
    const dispatch = route.handler;
    route.handler = function (this: FastifyInstance, req, reply) {
      return req.ws ? dispatch.call(this, req, reply) : index.call(this, req, reply);
    };
  });
});

const plugin: FastifyPluginAsync<PagesOptions> = async (app, opts) => {
  const index = indexPage(procedures(opts.router));
  app.get('/', (_req, reply) => html(reply, index));
  app.get('/_pages/browser.js', (_req, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(SCRIPT),
  );
  app.get('/verify-email', (_req, reply) => html(reply, FORMS.verify));
  app.get('/reset-password', (_req, reply) => html(reply, FORMS.reset));
  app.get('/sign-in', (_req, reply) => html(reply, FORMS.signIn(opts.oidc)));
  app.get('/account', (_req, reply) => html(reply, FORMS.account));
};

export default plugin;
