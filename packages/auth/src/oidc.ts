/**
 * Sign-in with a generic OpenID Connect provider: authorization code flow with PKCE, state and nonce
 * (openid-client). The flow's secrets travel in a short-lived HttpOnly cookie between the start and the
 * callback; the ID token's signature, issuer, audience and nonce are checked by openid-client.
 */
import { Identity, User } from '@keelson/db';
import { AppError } from '@keelson/errors';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import * as client from 'openid-client';
import { type RequestMeta, type SignedIn, toAuthUser } from './accounts.ts';
import { createSession, type SessionConfig } from './sessions.ts';

export interface OidcConfig {
  issuer: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  /** http:// issuers, for a local test provider only. */
  allowHttp: boolean;
}

/** What the start of a flow leaves in the browser (cookie) for its callback. */
export interface OidcFlow {
  state: string;
  nonce: string;
  codeVerifier: string;
  /** Where to send the browser afterwards: a path on PUBLIC_URL. */
  returnTo: string;
}

export interface OidcClaims {
  subject: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
}

export interface OidcClient {
  issuer: string;
  start(returnTo: string): Promise<{ url: string; flow: OidcFlow }>;
  /** Exchanges the code from the callback URL and returns the verified ID token's claims. */
  finish(callbackUrl: URL, flow: OidcFlow): Promise<OidcClaims>;
}

/** Only same-site paths: `//evil.example` or `https://…` would make the callback an open redirect. */
export function safeReturnTo(value: unknown): string {
  return typeof value === 'string' && /^\/(?![/\\])[\w\-./?=&%#]*$/.test(value) ? value : '/';
}

export function createOidcClient(config: OidcConfig): OidcClient {
  // Discovery runs once, on first use, not at start-up: a provider outage must not stop the API.
  let discovered: Promise<client.Configuration> | undefined;
  const configuration = () => {
    discovered ??= client
      .discovery(
        new URL(config.issuer),
        config.clientId,
        config.clientSecret,
        undefined,
        config.allowHttp ? { execute: [client.allowInsecureRequests] } : undefined,
      )
      .catch((err: unknown) => {
        discovered = undefined;
        throw err;
      });
    return discovered;
  };
  return {
    issuer: config.issuer,
    async start(returnTo) {
      const flow: OidcFlow = {
        state: client.randomState(),
        nonce: client.randomNonce(),
        codeVerifier: client.randomPKCECodeVerifier(),
        returnTo: safeReturnTo(returnTo),
      };
      const url = client.buildAuthorizationUrl(await configuration(), {
        redirect_uri: config.redirectUri,
        scope: 'openid email profile',
        state: flow.state,
        nonce: flow.nonce,
        code_challenge: await client.calculatePKCECodeChallenge(flow.codeVerifier),
        code_challenge_method: 'S256',
      });
      return { url: url.href, flow };
    },
    async finish(callbackUrl, flow) {
      const tokens = await client.authorizationCodeGrant(await configuration(), callbackUrl, {
        pkceCodeVerifier: flow.codeVerifier,
        expectedState: flow.state,
        expectedNonce: flow.nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims();
      if (!claims) throw new AppError('INVALID_TOKEN', { message: 'The provider sent no ID token.' });
      return {
        subject: claims.sub,
        email: typeof claims.email === 'string' ? claims.email.toLowerCase() : null,
        emailVerified: claims.email_verified === true,
        name: typeof claims.name === 'string' ? claims.name : null,
      };
    },
  };
}

/**
 * Signs in the user behind an OIDC identity:
 * - an identity seen before signs in its user;
 * - otherwise an account with the same email is linked only when the provider asserts the email
 *   verified *and* the account verified it too (else a provider account could take over a local one);
 * - otherwise a new account is created, only for an email the provider asserts verified.
 */
export async function signInWithOidc(
  em: EntityManager,
  config: SessionConfig,
  input: { issuer: string; claims: OidcClaims; meta: RequestMeta },
): Promise<SignedIn> {
  const { claims } = input;
  try {
    return await em.transactional(async (tx) => {
      const identity = await tx.findOne(
        Identity,
        { issuer: input.issuer, subject: claims.subject },
        { populate: ['user'] },
      );
      let user = identity ? (identity.user as unknown as User) : null;
      if (identity) identity.email = claims.email;
      if (!user) {
        if (!claims.email) throw new AppError('OIDC_REJECTED', { message: 'The provider shared no email address.' });
        // An address the provider has not verified claims nothing: neither an existing account nor a
        // new one (which would block the address's real owner from signing up).
        if (!claims.emailVerified) {
          throw new AppError('OIDC_REJECTED', { message: 'The provider has not verified your email address.' });
        }
        const existing = await tx.findOne(User, { email: claims.email });
        if (existing) {
          if (!existing.emailVerifiedAt) {
            throw new AppError('OIDC_REJECTED', {
              message: 'An account with this email exists; sign in with its password to link this provider.',
            });
          }
          user = existing;
        } else {
          user = tx.create(User, {
            email: claims.email,
            name: claims.name ?? claims.email.split('@')[0] ?? 'User',
            role: 'customer',
            passwordHash: null,
            emailVerifiedAt: new Date(),
          });
        }
        tx.create(Identity, { user, issuer: input.issuer, subject: claims.subject, email: claims.email });
      }
      if (user.disabledAt) throw new AppError('INVALID_CREDENTIALS');
      await tx.flush();
      const session = await createSession(tx, config, { userId: user.id, ...input.meta });
      return { user: toAuthUser(user), token: session.token, sessionId: session.sessionId };
    });
  } catch (err) {
    if (err instanceof UniqueConstraintViolationException) {
      throw new AppError('OIDC_REJECTED', { message: 'This sign-in raced another; try again.', cause: err });
    }
    throw err;
  }
}
