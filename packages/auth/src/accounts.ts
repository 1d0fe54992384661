/**
 * Account rules: sign-up, log-in, verification, password reset and change, profile. Shared by the API
 * (procedures) and the worker (issuing emailed tokens). Every function takes a forked EntityManager.
 */
import { AuthToken, type AuthTokenKind, User } from '@keelson/db';
import { AppError } from '@keelson/errors';
import { enqueue } from '@keelson/jobs';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { isCommonPassword } from './commonPasswords.ts';
import { hashPassword, verifyPassword } from './password.ts';
import {
  type AuthUser,
  createSession,
  invalidateSession,
  invalidateUserSessions,
  type SessionConfig,
} from './sessions.ts';
import { assertNotThrottled, clearThrottle, consume, recordHit, rules } from './throttle.ts';
import { hashToken, newToken } from './tokens.ts';

const HOUR = 60 * 60 * 1000;
export const VERIFY_EMAIL_TTL_MS = 48 * HOUR;
export const RESET_PASSWORD_TTL_MS = 1 * HOUR;

export interface RequestMeta {
  ip: string | null;
  userAgent: string | null;
}

export interface SignedIn {
  user: AuthUser;
  /** For bearer clients; browsers get it as a cookie. */
  token: string;
  sessionId: string;
}

export function toAuthUser(u: User): AuthUser {
  return { id: u.id, email: u.email, name: u.name, role: u.role, emailVerified: u.emailVerifiedAt != null };
}

async function assertAcceptablePassword(password: string): Promise<void> {
  if (await isCommonPassword(password)) {
    throw new AppError('WEAK_PASSWORD', { details: { field: 'password' } });
  }
}

// Verifying against a real hash when the account does not exist keeps unknown emails and wrong
// passwords equally slow (no user enumeration through timing).
let dummyHash: Promise<string> | undefined;
function timingDummy(): Promise<string> {
  dummyHash ??= hashPassword('keelson-timing-equaliser');
  return dummyHash;
}

async function findWithPassword(em: EntityManager, where: { email: string } | { id: string }) {
  return em.findOne(User, where, { populate: ['passwordHash'] });
}

export async function signUp(
  em: EntityManager,
  config: SessionConfig,
  input: { email: string; password: string; name: string; meta: RequestMeta },
): Promise<SignedIn> {
  await consume(em, { rule: rules.signUpIp, key: input.meta.ip ?? 'unknown', now: new Date() });
  await assertAcceptablePassword(input.password);
  const passwordHash = await hashPassword(input.password);
  try {
    return await em.transactional(async (tx) => {
      if (await tx.count(User, { email: input.email })) throw new AppError('EMAIL_TAKEN');
      const user = tx.create(User, { email: input.email, name: input.name, role: 'customer', passwordHash });
      await tx.flush();
      await enqueue(tx, 'email__verify_address', { userId: user.id, email: user.email });
      const session = await createSession(tx, config, { userId: user.id, ...input.meta });
      return { user: toAuthUser(user), token: session.token, sessionId: session.sessionId };
    });
  } catch (err) {
    // Two sign-ups racing for one address: the unique constraint decides.
    if (err instanceof UniqueConstraintViolationException) throw new AppError('EMAIL_TAKEN', { cause: err });
    throw err;
  }
}

/**
 * One answer, INVALID_CREDENTIALS, for an unknown email, a wrong password and a disabled account.
 * Failures count against the account (exponential back-off) and the IP (stuffing across accounts);
 * the counters are in PostgreSQL, so they hold across API processes.
 */
export async function logIn(
  em: EntityManager,
  config: SessionConfig,
  input: { email: string; password: string; meta: RequestMeta },
): Promise<SignedIn> {
  const now = new Date();
  const account = { rule: rules.loginAccount, key: input.email, now };
  const ip = { rule: rules.loginIp, key: input.meta.ip ?? 'unknown', now };
  await assertNotThrottled(em, account);
  await assertNotThrottled(em, ip);

  const user = await findWithPassword(em, { email: input.email });
  const ok = await verifyPassword(user?.passwordHash ?? (await timingDummy()), input.password);
  if (!user || !ok || user.disabledAt) {
    const [blockedAccount, blockedIp] = await Promise.all([recordHit(em, account), recordHit(em, ip)]);
    const blockedUntil = blockedAccount ?? blockedIp;
    if (blockedUntil) {
      throw new AppError('RATE_LIMITED', {
        details: { retryAfterSeconds: Math.ceil((blockedUntil.getTime() - now.getTime()) / 1000) },
      });
    }
    throw new AppError('INVALID_CREDENTIALS');
  }
  await clearThrottle(em, account);
  // Always a new session: a token planted before log-in (fixation) never becomes authenticated.
  const session = await createSession(em, config, { userId: user.id, ...input.meta });
  return { user: toAuthUser(user), token: session.token, sessionId: session.sessionId };
}

export function logOut(em: EntityManager, config: SessionConfig, token: string): Promise<void> {
  return invalidateSession(em, config, token);
}

/** Creates a single-use token for an email link; the worker calls this, so the raw token only lives in the email. */
export async function issueEmailToken(
  em: EntityManager,
  input: { userId: string; kind: AuthTokenKind; email: string | null },
): Promise<string> {
  const token = newToken();
  const ttl = input.kind === 'reset_password' ? RESET_PASSWORD_TTL_MS : VERIFY_EMAIL_TTL_MS;
  em.create(AuthToken, {
    kind: input.kind,
    tokenHash: hashToken(token),
    user: input.userId,
    email: input.email,
    expiresAt: new Date(Date.now() + ttl),
  });
  await em.flush();
  return token;
}

/** Marks a valid token used and returns it; INVALID_TOKEN when unknown, used, expired or of another kind. */
async function redeem(tx: EntityManager, token: string, kind: AuthTokenKind): Promise<AuthToken> {
  // The conditional update is the single-use guarantee: of two concurrent redemptions, one updates the row.
  const [row] = await tx.getConnection().execute<{ id: string }[]>(
    `update auth_token set used_at = now()
       where token_hash = ? and kind = ? and used_at is null and expires_at > ? returning id`,
    [hashToken(token), kind, new Date()],
    'all',
    tx.getTransactionContext(),
  );
  if (!row) throw new AppError('INVALID_TOKEN');
  return tx.findOneOrFail(AuthToken, row.id, { populate: ['user'] });
}

export async function verifyEmail(em: EntityManager, token: string): Promise<AuthUser> {
  return em.transactional(async (tx) => {
    const record = await redeem(tx, token, 'verify_email');
    const user = record.user as unknown as User;
    if (record.email && record.email !== user.email) {
      // A change of address takes effect only once the new address proves it is reachable.
      if (await tx.count(User, { email: record.email, id: { $ne: user.id } })) throw new AppError('EMAIL_TAKEN');
      user.email = record.email;
    }
    user.emailVerifiedAt = new Date();
    await tx.flush();
    return toAuthUser(user);
  });
}

export async function resendVerification(em: EntityManager, user: AuthUser): Promise<void> {
  if (user.emailVerified) return;
  await consume(em, { rule: rules.verifyAccount, key: user.id, now: new Date() });
  await em.transactional((tx) => enqueue(tx, 'email__verify_address', { userId: user.id, email: user.email }));
}

/**
 * Always the same answer, whether or not the address has an account. Per-account limits are applied
 * silently (no email), so they reveal nothing either.
 */
export async function requestPasswordReset(
  em: EntityManager,
  input: { email: string; meta: RequestMeta },
): Promise<void> {
  const now = new Date();
  await consume(em, { rule: rules.resetIp, key: input.meta.ip ?? 'unknown', now });
  const user = await em.findOne(User, { email: input.email, disabledAt: null });
  if (!user) return;
  const account = { rule: rules.resetAccount, key: user.id, now };
  try {
    await consume(em, account);
  } catch {
    return;
  }
  await em.transactional((tx) => enqueue(tx, 'email__password_reset', { userId: user.id }));
}

/** Sets a new password from an emailed token and ends every session of the account. */
export async function resetPassword(em: EntityManager, input: { token: string; password: string }): Promise<void> {
  await assertAcceptablePassword(input.password);
  const passwordHash = await hashPassword(input.password);
  await em.transactional(async (tx) => {
    const record = await redeem(tx, input.token, 'reset_password');
    const user = record.user as unknown as User;
    user.passwordHash = passwordHash;
    await tx.flush();
    await invalidateUserSessions(tx, user.id);
  });
}

export async function updateProfile(em: EntityManager, userId: string, input: { name: string }): Promise<AuthUser> {
  const user = await em.findOneOrFail(User, userId);
  user.name = input.name;
  await em.flush();
  return toAuthUser(user);
}

/** Checks the current password, counting failures like log-ins do, so this is no side door for guessing. */
async function assertCurrentPassword(em: EntityManager, user: User, password: string): Promise<void> {
  const now = new Date();
  const account = { rule: rules.loginAccount, key: user.email, now };
  await assertNotThrottled(em, account);
  if (!user.passwordHash || !(await verifyPassword(user.passwordHash, password))) {
    await recordHit(em, account);
    throw new AppError('INVALID_CREDENTIALS', { message: 'The current password is wrong.' });
  }
}

/** Changes the password and ends every other session (the current one stays signed in). */
export async function changePassword(
  em: EntityManager,
  input: { userId: string; sessionId: string; currentPassword: string; newPassword: string },
): Promise<void> {
  const user = await findWithPassword(em, { id: input.userId });
  if (!user) throw new AppError('UNAUTHENTICATED');
  await assertCurrentPassword(em, user, input.currentPassword);
  await assertAcceptablePassword(input.newPassword);
  const passwordHash = await hashPassword(input.newPassword);
  await em.transactional(async (tx) => {
    await tx.nativeUpdate(User, { id: user.id }, { passwordHash });
    await invalidateUserSessions(tx, user.id, input.sessionId);
  });
}

/** Starts a change of address: nothing changes until the link sent to the new address is opened. */
export async function changeEmail(
  em: EntityManager,
  input: { userId: string; currentPassword: string; newEmail: string },
): Promise<{ pendingEmail: string }> {
  const user = await findWithPassword(em, { id: input.userId });
  if (!user) throw new AppError('UNAUTHENTICATED');
  await assertCurrentPassword(em, user, input.currentPassword);
  if (input.newEmail === user.email) throw new AppError('CONFLICT', { message: 'That is already your address.' });
  if (await em.count(User, { email: input.newEmail })) throw new AppError('EMAIL_TAKEN');
  await em.transactional((tx) => enqueue(tx, 'email__verify_address', { userId: user.id, email: input.newEmail }));
  return { pendingEmail: input.newEmail };
}
