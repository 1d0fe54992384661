/**
 * Turns an HTTP request or a WebSocket connection into the `RequestInfo` the tRPC context needs:
 * which credential the caller presented, whether its origin may send cookie-authenticated mutations,
 * and where to put a Set-Cookie.
 */
import type { IncomingMessage } from 'node:http';
import {
  isCrossSiteBrowserRequest,
  isTrustedOrigin,
  readBearerToken,
  readDeviceCookie,
  readSessionCookie,
  type SessionConfig,
} from '@keelson/auth';
import type { Config } from '@keelson/config';
import { assertStorableText, type RequestInfo } from '@keelson/trpc';
import type { FastifyReply, FastifyRequest } from 'fastify';

type Credential = RequestInfo['credential'];

/** The session settings of the configuration, as the cookie helpers read them. */
export function sessionConfig(config: Config): SessionConfig {
  return {
    idleTimeoutMs: config.auth.sessionIdleTimeoutMs,
    maxAgeMs: config.auth.sessionMaxAgeMs,
    cookieSecure: config.auth.cookieSecure,
  };
}

export function credentialFromHeaders(sessions: SessionConfig, headers: IncomingMessage['headers']): Credential {
  const bearer = headers.authorization ? readBearerToken(headers.authorization) : null;
  if (bearer) return { token: bearer, source: 'bearer' };
  const cookie = headers.cookie ? readSessionCookie(sessions, headers.cookie) : null;
  return cookie ? { token: cookie, source: 'cookie' } : null;
}

const header = (value: string | string[] | undefined) => (typeof value === 'string' ? value : null);

export function httpRequestInfo(
  opts: { sessions: SessionConfig; allowedOrigins: readonly string[] },
  req: FastifyRequest,
  res: FastifyReply,
): RequestInfo {
  return {
    requestId: req.id,
    logger: req.log,
    credential: credentialFromHeaders(opts.sessions, req.headers),
    trustedOrigin: isTrustedOrigin(req.headers, opts.allowedOrigins),
    crossSite: isCrossSiteBrowserRequest(req.headers, opts.allowedOrigins),
    ip: req.ip,
    userAgent: header(req.headers['user-agent']),
    deviceToken: req.headers.cookie ? readDeviceCookie(opts.sessions, req.headers.cookie) : null,
    setCookie: (cookie) => {
      // Several calls of one batch may set it; the last word wins, which is also the latest state.
      res.header('set-cookie', cookie);
    },
  };
}

/**
 * A WebSocket carries one identity for its lifetime: a token in `connectionParams` (for clients that
 * cannot send cookies or headers), otherwise the cookie or bearer header of the upgrade request. Its
 * Origin was checked at the upgrade, so its mutations are not cross-site. connectionParams follow the
 * text rule of every procedure input (no procedure parses them): a NUL or a lone surrogate in one answers
 * BAD_REQUEST and closes the socket, as any invalid connectionParams do.
 */
export function wsRequestInfo(
  opts: { sessions: SessionConfig; requestId: string; clientIp: (req: IncomingMessage) => string | null },
  req: IncomingMessage,
  connectionParams: Record<string, string | undefined> | null | undefined,
): RequestInfo {
  assertStorableText(connectionParams ?? null, ['connectionParams']);
  const token = connectionParams?.token;
  return {
    requestId: opts.requestId,
    credential:
      typeof token === 'string' && token.length > 0
        ? { token, source: 'connectionParams' }
        : credentialFromHeaders(opts.sessions, req.headers),
    trustedOrigin: true,
    crossSite: false,
    longLived: true,
    ip: opts.clientIp(req),
    userAgent: header(req.headers['user-agent']),
    deviceToken: req.headers.cookie ? readDeviceCookie(opts.sessions, req.headers.cookie) : null,
  };
}
