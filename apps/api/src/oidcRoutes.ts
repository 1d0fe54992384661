/**
 * OpenID Connect sign-in for browsers: `GET /auth/oidc/start?returnTo=/path` redirects to the provider,
 * which sends the browser back to `GET /auth/oidc/callback`; that sets the session cookie and redirects
 * to PUBLIC_URL + returnTo, or to PUBLIC_URL/sign-in?error=CODE.
 */
import {
  createOidcClient,
  logOut,
  type OidcFlow,
  readSessionCookie,
  type SessionConfig,
  safeReturnTo,
  sessionCookie,
  signInWithOidc,
} from '@keelson/auth';
import type { Config } from '@keelson/config';
import type { MikroORM } from '@keelson/db';
import { AppError } from '@keelson/errors';
import type { FastifyPluginAsync } from 'fastify';

const FLOW_TTL_SECONDS = 600;

function readCookie(header: string | undefined, name: string): string | null {
  for (const part of header?.split(';') ?? []) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return null;
}

function decodeFlow(value: string | null): OidcFlow | null {
  if (!value) return null;
  try {
    const flow = JSON.parse(Buffer.from(value, 'base64url').toString()) as Partial<OidcFlow>;
    return typeof flow.state === 'string' && typeof flow.nonce === 'string' && typeof flow.codeVerifier === 'string'
      ? { state: flow.state, nonce: flow.nonce, codeVerifier: flow.codeVerifier, returnTo: safeReturnTo(flow.returnTo) }
      : null;
  } catch {
    return null;
  }
}

export const oidcRoutes: FastifyPluginAsync<{ config: Config; orm: MikroORM; sessions: SessionConfig }> = async (
  app,
  deps,
) => {
  const { oidc: oidcConfig, auth } = deps.config;
  if (!oidcConfig) return;
  const oidc = createOidcClient(oidcConfig);
  // Over HTTPS the `__Host-` prefix (Secure, Path=/, no Domain) stops a sibling subdomain from planting
  // a flow of its own, which would sign the victim into the attacker's account.
  const FLOW_COOKIE = deps.sessions.cookieSecure ? '__Host-keelson_oidc' : 'keelson_oidc';
  const flowCookie = (value: string, maxAge: number) =>
    deps.sessions.cookieSecure
      ? `${FLOW_COOKIE}=${value}; HttpOnly; SameSite=Lax; Path=/; Max-Age=${maxAge}; Secure`
      : `${FLOW_COOKIE}=${value}; HttpOnly; SameSite=Lax; Path=/auth/oidc; Max-Age=${maxAge}`;

  app.get('/auth/oidc/start', async (req, reply) => {
    const { url, flow } = await oidc.start(safeReturnTo((req.query as Record<string, unknown>).returnTo));
    const value = Buffer.from(JSON.stringify(flow)).toString('base64url');
    return reply.header('set-cookie', flowCookie(value, FLOW_TTL_SECONDS)).redirect(url, 302);
  });

  app.get('/auth/oidc/callback', async (req, reply) => {
    reply.header('set-cookie', flowCookie('', 0));
    const flow = decodeFlow(readCookie(req.headers.cookie, FLOW_COOKIE));
    try {
      if (!flow) throw new AppError('OIDC_REJECTED', { message: 'The sign-in expired or was started elsewhere.' });
      const callbackUrl = new URL(oidcConfig.redirectUri);
      callbackUrl.search = new URL(req.url, 'http://callback').search;
      const claims = await oidc.finish(callbackUrl, flow);
      const em = deps.orm.em.fork();
      const signedIn = await signInWithOidc(em, deps.sessions, {
        issuer: oidc.issuer,
        claims,
        meta: { ip: req.ip, userAgent: req.headers['user-agent'] ?? null },
      });
      // As with a password log-in, the session the browser had before ends.
      const previous = req.headers.cookie ? readSessionCookie(deps.sessions, req.headers.cookie) : null;
      if (previous) await logOut(em, deps.sessions, previous);
      reply.header('set-cookie', sessionCookie(deps.sessions, signedIn.token));
      return reply.redirect(`${auth.publicUrl}${flow.returnTo}`, 302);
    } catch (err) {
      const code = err instanceof AppError ? err.code : 'OIDC_REJECTED';
      req.log.warn({ err }, 'OIDC sign-in failed');
      return reply.redirect(`${auth.publicUrl}/sign-in?error=${code}`, 302);
    }
  });
};
