/**
 * The procedure list: at `/trpc` (a page for a person, JSON for a program), and at `/` when the API
 * serves no web app (plugins/webApp.ts).
 */
import { type ProcedureInfo, procedureList } from '@keelson/trpc';
import type { AnyTRPCRouter } from '@trpc/server';
import type { FastifyInstance, FastifyReply, RouteHandlerMethod } from 'fastify';
import fp from 'fastify-plugin';

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Keelson</title>
</head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
${body}
</main>
</body>
</html>
`;
}

function indexPage(list: ProcedureInfo[], note = ''): string {
  const rows = list.map((p) => `<tr><td><code>${escapeHtml(p.path)}</code></td><td>${p.type}</td></tr>`).join('\n');
  return page(
    'Keelson API',
    `<p>A typed backend: tRPC procedures over HTTP at <code>/trpc</code> (batched), WebSocket and Server-Sent Events.
Call them from TypeScript with <code>@keelson/client</code> (<code>createClient({ url: '/trpc' })</code>); the README and docs/ show each flow.</p>
${note}
<ul>
<li><a href="/">The store</a> (the web app)</li>
<li><a href="/healthz">/healthz</a> (the process), <a href="/readyz">/readyz</a> (ready for traffic)</li>
<li><code>GET /trpc</code> with <code>Accept: application/json</code>: this list as JSON</li>
</ul>
<h2>${list.length} procedures</h2>
<table><thead><tr><th>Procedure</th><th>Type</th></tr></thead><tbody>
${rows}
</tbody></table>`,
  );
}

/** `/` of an API that serves no web app: the procedure list, and how to get the app. */
export function noWebAppPage(router: AnyTRPCRouter, webDir: string | null): string {
  const why = webDir
    ? `is not built in <code>${escapeHtml(webDir)}</code>: <code>pnpm --filter @keelson/web build</code> builds it (<code>pnpm start</code> does it by itself)`
    : 'is not served here (WEB_DIR is empty)';
  return indexPage(procedureList(router), `<p><strong>The web app ${why}.</strong></p>`);
}

const html = (reply: FastifyReply, body: string) =>
  reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(body);

/** The procedure list at `/trpc`: a page for a person, JSON for a program. */
function trpcIndex(router: AnyTRPCRouter): RouteHandlerMethod {
  const list = procedureList(router);
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
