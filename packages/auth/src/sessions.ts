/**
 * Sessions, on lucia v3 with a MikroORM adapter written here (lucia ships none for MikroORM).
 *
 * This is the only module that imports `lucia`. Lucia v3 is deprecated upstream (its authors now teach
 * writing sessions from scratch); everything else talks to the functions exported here, so replacing
 * lucia means rewriting this file only.
 *
 * Tokens are never stored: the adapter keys sessions by SHA-256 of the token (lucia hands the adapter
 * the raw token as "session id" and gets the same raw token back). Lucia gives the sliding idle expiry
 * (renewed once less than half of it is left); the adapter adds the absolute lifetime, disabled
 * accounts, and the public session id used to list and revoke sessions.
 */
import { type Database, Session, type UserRole } from '@keelson/db';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { type Adapter, type DatabaseSession, type DatabaseUser, Lucia, TimeSpan } from 'lucia';
import { hashToken, newToken } from './tokens.ts';

export interface SessionConfig {
  idleTimeoutMs: number;
  maxAgeMs: number;
  /** `Secure` attribute, and the `__Host-` name prefix. */
  cookieSecure: boolean;
}

/** The signed-in user as every procedure sees it. */
export interface AuthUser {
  id: string;
  email: string;
  name: string;
  role: UserRole;
  emailVerified: boolean;
}

export interface ValidSession {
  user: AuthUser;
  session: {
    /** Public id (for `auth.sessions.*`), not the token. */
    id: string;
    expiresAt: Date;
    /** The expiry was just extended: browsers need a fresh cookie. */
    fresh: boolean;
  };
}

interface SessionAttributes {
  publicId: string;
  absoluteExpiresAt: Date;
}

declare module 'lucia' {
  interface Register {
    Lucia: Lucia<SessionAttributes, AuthUser>;
    DatabaseSessionAttributes: SessionAttributes;
    DatabaseUserAttributes: Omit<AuthUser, 'id'>;
  }
}

interface Row {
  public_id: string;
  user_id: string;
  expires_at: Date;
  absolute_expires_at: Date;
  email: string;
  name: string;
  role: UserRole;
  email_verified_at: Date | null;
  disabled_at: Date | null;
}

class MikroOrmAdapter implements Adapter {
  readonly #em: EntityManager;
  constructor(em: EntityManager) {
    this.#em = em;
  }

  /** Typed SQL on the entities' tables, in the EntityManager's transaction when it has one. */
  get #db() {
    return this.#em.getKysely<Database>();
  }

  async getSessionAndUser(token: string): Promise<[DatabaseSession | null, DatabaseUser | null]> {
    // One round trip: the lookup also stamps `last_used_at` (for the session list), at most once a
    // minute per session, so most requests write nothing.
    // Timestamps arrive as text from MikroORM's connection; `new Date` below reads either.
    const {
      rows: [row],
    } = await sql<Row>`
      with found as (
        select s.id as public_id, s.user_id, s.expires_at, s.absolute_expires_at, s.last_used_at,
               u.email, u.name, u.role, u.email_verified_at, u.disabled_at
        from auth_session s join app_user u on u.id = s.user_id
        where s.token_hash = ${hashToken(token)}
      ), touched as (
        update auth_session set last_used_at = now()
        where id = (select public_id from found) and last_used_at < now() - interval '1 minute'
      )
      select * from found`.execute(this.#db);
    if (!row) return [null, null];
    // The absolute lifetime caps the idle expiry, so lucia deletes the session once either passes.
    const expiresAt = new Date(
      Math.min(new Date(row.expires_at).getTime(), new Date(row.absolute_expires_at).getTime()),
    );
    const session: DatabaseSession = {
      id: token,
      userId: row.user_id,
      expiresAt,
      attributes: { publicId: row.public_id, absoluteExpiresAt: new Date(row.absolute_expires_at) },
    };
    // A disabled account has no sessions: lucia deletes this one when the user comes back null.
    const user: DatabaseUser | null = row.disabled_at
      ? null
      : {
          id: row.user_id,
          attributes: {
            email: row.email,
            name: row.name,
            role: row.role,
            emailVerified: row.email_verified_at !== null,
          },
        };
    return [session, user];
  }

  async getUserSessions(userId: string): Promise<DatabaseSession[]> {
    // Tokens are not stored, so these sessions carry their public id where lucia expects the token;
    // nothing in Keelson passes them back to lucia (listing and revoking use `listSessions` below).
    const rows = await this.#em.find(Session, { user: userId }, { disableIdentityMap: true });
    return rows.map((s) => ({
      id: s.id,
      userId,
      expiresAt: s.expiresAt,
      attributes: { publicId: s.id, absoluteExpiresAt: s.absoluteExpiresAt },
    }));
  }

  async setSession(session: DatabaseSession): Promise<void> {
    // Sessions are created by `createSession`, which also records the absolute expiry and the device.
    throw new Error(`setSession is not used (session for ${session.userId})`);
  }

  async updateSessionExpiration(token: string, expiresAt: Date): Promise<void> {
    await this.#db
      .updateTable('auth_session')
      .set({ expires_at: sql`least(${expiresAt}::timestamptz, absolute_expires_at)` })
      .where('token_hash', '=', hashToken(token))
      .execute();
  }

  async deleteSession(token: string): Promise<void> {
    await this.#db.deleteFrom('auth_session').where('token_hash', '=', hashToken(token)).execute();
  }

  async deleteUserSessions(userId: string): Promise<void> {
    await this.#db.deleteFrom('auth_session').where('user_id', '=', userId).execute();
  }

  async deleteExpiredSessions(): Promise<void> {
    await this.#db
      .deleteFrom('auth_session')
      .where((w) => w.or([w('expires_at', '<=', sql<Date>`now()`), w('absolute_expires_at', '<=', sql<Date>`now()`)]))
      .execute();
  }
}

const COOKIE = 'keelson_session';
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{16,256}$/;

/**
 * Whether a string could be a session token: URL-safe characters (`newToken` makes 43 of them), at most
 * 256. Nothing else can be a session, so nothing else is looked up.
 */
export function isSessionToken(token: string): boolean {
  return TOKEN_SHAPE.test(token);
}

/** For the cookie and header helpers, which never reach the database: a call to it would be a bug. */
const noDatabase: Adapter = {
  getSessionAndUser: refuse,
  getUserSessions: refuse,
  setSession: refuse,
  updateSessionExpiration: refuse,
  deleteSession: refuse,
  deleteUserSessions: refuse,
  deleteExpiredSessions: refuse,
};
function refuse(): Promise<never> {
  return Promise.reject(new Error('a cookie helper reached the session store'));
}

function lucia(em: EntityManager | null, config: SessionConfig): Lucia<SessionAttributes, AuthUser> {
  return new Lucia(em ? new MikroOrmAdapter(em) : noDatabase, {
    sessionExpiresIn: new TimeSpan(Math.floor(config.idleTimeoutMs / 1000), 's'),
    sessionCookie: {
      // `__Host-` makes browsers refuse the cookie unless Secure, host-only and Path=/.
      name: config.cookieSecure ? `__Host-${COOKIE}` : COOKIE,
      expires: true,
      attributes: { secure: config.cookieSecure, sameSite: 'lax', path: '/' },
    },
    getSessionAttributes: (attributes) => attributes,
    getUserAttributes: (attributes) => attributes as AuthUser,
  });
}

/** Starts a session; the token goes to the client and nowhere else. */
export async function createSession(
  em: EntityManager,
  config: SessionConfig,
  input: { userId: string; userAgent: string | null; ip: string | null },
): Promise<{ token: string; sessionId: string; expiresAt: Date }> {
  const token = newToken();
  const now = Date.now();
  const session = em.create(Session, {
    tokenHash: hashToken(token),
    user: input.userId,
    expiresAt: new Date(now + config.idleTimeoutMs),
    absoluteExpiresAt: new Date(now + config.maxAgeMs),
    userAgent: input.userAgent?.slice(0, 512) ?? null,
    ip: input.ip?.slice(0, 64) ?? null,
  });
  await em.flush();
  return { token, sessionId: session.id, expiresAt: session.expiresAt };
}

/** The session and user behind a token, renewing the idle expiry when due; null when invalid. */
export async function validateSession(
  em: EntityManager,
  config: SessionConfig,
  token: string,
): Promise<ValidSession | null> {
  // Anything else is answered without a query.
  if (!isSessionToken(token)) return null;
  const { session, user } = await lucia(em, config).validateSession(token);
  if (!session || !user) return null;
  // Near the absolute end, lucia's renewal is capped by the adapter: report the real expiry, and do
  // not call that a renewal (no fresh cookie that would outlive the session).
  const capped = session.expiresAt > session.absoluteExpiresAt;
  return {
    user: { id: user.id, email: user.email, name: user.name, role: user.role, emailVerified: user.emailVerified },
    session: {
      id: session.publicId,
      expiresAt: capped ? session.absoluteExpiresAt : session.expiresAt,
      fresh: session.fresh && !capped,
    },
  };
}

export function invalidateSession(em: EntityManager, config: SessionConfig, token: string): Promise<void> {
  return lucia(em, config).invalidateSession(token);
}

/** Ends every session of a user, or every one but `except` (a public session id). */
export async function invalidateUserSessions(em: EntityManager, userId: string, except?: string): Promise<number> {
  const where = except ? { user: userId, id: { $ne: except } } : { user: userId };
  return em.nativeDelete(Session, where);
}

/** A session that is still good for its user: unexpired, the account enabled. */
export interface LiveSession {
  userId: string;
  role: UserRole;
}

/**
 * Which of these sessions (public ids) are still live, in one query whatever their number: what an API
 * process re-checks for its open subscriptions. Missing from the map means ended (logged out, revoked,
 * expired, cleaned up, or the account disabled). Never renews a session: watching is not using it.
 */
export async function liveSessions(
  em: EntityManager,
  sessionIds: readonly string[],
): Promise<Map<string, LiveSession>> {
  if (!sessionIds.length) return new Map();
  // Ids travel as one JSON parameter: one statement and one plan for any number of them (a process may
  // watch tens of thousands, past PostgreSQL's limit of 65,535 parameters).
  const { rows } = await sql<{ id: string; user_id: string; role: UserRole }>`
    select s.id, s.user_id, u.role
    from auth_session s join app_user u on u.id = s.user_id
    where s.id in (select value::uuid from jsonb_array_elements_text(${JSON.stringify(sessionIds)}::jsonb))
      and s.expires_at > now() and s.absolute_expires_at > now() and u.disabled_at is null`.execute(
    em.getKysely<Database>(),
  );
  return new Map(rows.map((r) => [r.id, { userId: r.user_id, role: r.role }]));
}

export interface SessionInfo {
  id: string;
  userAgent: string | null;
  ip: string | null;
  createdAt: Date;
  lastUsedAt: Date;
  expiresAt: Date;
  current: boolean;
}

export async function listSessions(
  em: EntityManager,
  userId: string,
  currentId: string | null,
): Promise<SessionInfo[]> {
  const rows = await em.find(
    Session,
    { user: userId, expiresAt: { $gt: new Date() }, absoluteExpiresAt: { $gt: new Date() } },
    { orderBy: { lastUsedAt: 'desc' }, disableIdentityMap: true },
  );
  return rows.map((s) => ({
    id: s.id,
    userAgent: s.userAgent ?? null,
    ip: s.ip ?? null,
    createdAt: s.createdAt,
    lastUsedAt: s.lastUsedAt,
    expiresAt: new Date(Math.min(s.expiresAt.getTime(), s.absoluteExpiresAt.getTime())),
    current: s.id === currentId,
  }));
}

/** Deletes one of the user's own sessions; false when there is none with that id (or it is someone else's). */
export async function revokeSession(em: EntityManager, userId: string, sessionId: string): Promise<boolean> {
  return (await em.nativeDelete(Session, { id: sessionId, user: userId })) > 0;
}

export function sessionCookie(config: SessionConfig, token: string): string {
  return lucia(null, config).createSessionCookie(token).serialize();
}

export function blankSessionCookie(config: SessionConfig): string {
  return lucia(null, config).createBlankSessionCookie().serialize();
}

/**
 * The session token of a `Cookie` header, or null. Never throws: lucia's parser percent-decoded every
 * cookie and threw on a malformed one (`keelson_session=%%%`, or a stranger's cookie on our domain),
 * failing the request with a 500. A value that cannot be a token (see `isSessionToken`) counts as no
 * cookie at all: a malformed cookie is no session.
 */
export function readSessionCookie(config: SessionConfig, cookieHeader: string): string | null {
  const name = lucia(null, config).sessionCookieName;
  for (const pair of cookieHeader.split(';')) {
    const eq = pair.indexOf('=');
    if (eq === -1 || pair.slice(0, eq).trim() !== name) continue;
    const value = pair.slice(eq + 1).trim();
    if (isSessionToken(value)) return value;
  }
  return null;
}

/** The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), or null when malformed. */
export function readBearerToken(authorization: string): string | null {
  const token = /^bearer +(\S+) *$/i.exec(authorization)?.[1];
  return token && isSessionToken(token) ? token : null;
}
