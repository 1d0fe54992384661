/**
 * Account rules: sign-up, log-in, verification, password reset and change, profile. Shared by the API
 * (procedures) and the worker (issuing emailed tokens). Every function takes a forked EntityManager.
 */
import { AuthToken, type AuthTokenKind, type Database, User } from '@keelson/db';
import { AppError } from '@keelson/errors';
import { enqueue } from '@keelson/jobs';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { isCommonPassword } from './commonPasswords.ts';
import { findDevice, forgetDevices, issueDevice } from './devices.ts';
import { hashPassword, verifyPassword } from './password.ts';
import {
  type AuthUser,
  createSession,
  invalidateSession,
  invalidateUserSessions,
  type SessionConfig,
} from './sessions.ts';
import { type Claim, claim, claimAll, clearThrottle, ipThrottleKey, refundThrottle, rules } from './throttle.ts';
import { hashToken, newToken } from './tokens.ts';

const HOUR = 60 * 60 * 1000;
export const VERIFY_EMAIL_TTL_MS = 48 * HOUR;
export const RESET_PASSWORD_TTL_MS = 1 * HOUR;

/** Typed SQL on the entities' tables, in `em`'s transaction when it has one. */
const kysely = (em: EntityManager) => em.getKysely<Database>();

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

export interface LoggedIn extends SignedIn {
  /** This client's new device token (devices.ts); browsers get it as a cookie too. */
  deviceToken: string;
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

/**
 * Creates a customer account and emails a verification link, or, when the address already has an
 * account, emails its owner instead ("someone tried to sign up with your address"). The caller cannot
 * tell which happened: the same answer, the same work (the password is hashed either way), no session
 * either way (a session would say which). The client logs in afterwards.
 */
export async function signUp(
  em: EntityManager,
  input: { email: string; password: string; name: string; meta: RequestMeta },
): Promise<void> {
  await assertAcceptablePassword(input.password);
  await claim(em, { rule: rules.signUpIp, key: ipThrottleKey(input.meta.ip), now: new Date() });
  const passwordHash = await hashPassword(input.password);
  try {
    await em.transactional(async (tx) => {
      const owner = await tx.findOne(User, { email: input.email });
      if (owner) {
        await enqueue(tx, 'email__account_exists', { userId: owner.id });
        return;
      }
      const user = tx.create(User, { email: input.email, name: input.name, role: 'customer', passwordHash });
      await tx.flush();
      await enqueue(tx, 'email__verify_address', { userId: user.id, email: user.email });
    });
  } catch (err) {
    if (!(err instanceof UniqueConstraintViolationException)) throw err;
    // Two sign-ups raced for one address and the other won: this one is a sign-up of a taken address.
    await em.fork().transactional(async (tx) => {
      const owner = await tx.findOneOrFail(User, { email: input.email });
      await enqueue(tx, 'email__account_exists', { userId: owner.id });
    });
  }
}

/**
 * The worker's half of a sign-up with a taken address: the account to tell, or null when it is
 * disabled, gone, or was told often enough this hour (so sign-ups cannot flood a mailbox).
 */
export async function accountExistsNotice(em: EntityManager, userId: string): Promise<User | null> {
  const user = await em.findOne(User, { id: userId, disabledAt: null });
  if (!user) return null;
  try {
    await claim(em, { rule: rules.signUpNoticeAccount, key: user.id, now: new Date() });
  } catch (err) {
    // Only the limit means "send nothing"; anything else fails the job, which is retried.
    if (err instanceof AppError && err.code === 'RATE_LIMITED') return null;
    throw err;
  }
  return user;
}

/**
 * One answer, INVALID_CREDENTIALS, for an unknown email, a wrong password and a disabled account.
 * Every attempt is claimed against the throttles *before* the password is checked (see throttle.ts),
 * all at once and charged to all or none. A client presenting a device token of the account (a
 * browser or app that logged in to it before, see devices.ts) is counted per device and nothing else;
 * any other is counted per account and IP, per account, and per IP. The counters live in PostgreSQL,
 * so they hold across API processes. A success clears the client's own counter (its device's, or its
 * account and IP's), gives the per-account rule back its own charge, and hands the client a new
 * device token.
 */
export async function logIn(
  em: EntityManager,
  config: SessionConfig,
  input: { email: string; password: string; deviceToken?: string | null; meta: RequestMeta },
): Promise<LoggedIn> {
  const now = new Date();
  const device = input.deviceToken ? await findDevice(em, { token: input.deviceToken, email: input.email, now }) : null;
  const ip = ipThrottleKey(input.meta.ip);
  const own: Claim = device
    ? { rule: rules.loginDevice, key: device.id, now }
    : { rule: rules.loginAccountIp, key: `${input.email} ${ip}`, now };
  const account: Claim = { rule: rules.loginAccount, key: input.email, now };
  await claimAll(em, device ? [own] : [own, account, { rule: rules.loginIp, key: ip, now }]);

  const user = await findWithPassword(em, { email: input.email });
  const ok = await verifyPassword(user?.passwordHash ?? (await timingDummy()), input.password);
  if (!user || !ok || user.disabledAt) throw new AppError('INVALID_CREDENTIALS');
  await clearThrottle(em, own);
  // The owner's own attempt gives back what it took from the account's budget; the guesses of others
  // stay counted (clearing it would hand them a fresh budget each time the owner logs in).
  if (!device) await refundThrottle(em, account);
  return em.transactional(async (tx) => {
    // Always a new session: a token planted before log-in (fixation) never becomes authenticated.
    const session = await createSession(tx, config, { userId: user.id, ...input.meta });
    const deviceToken = await issueDevice(tx, { userId: user.id, replacing: device?.id ?? null, now });
    return { user: toAuthUser(user), token: session.token, sessionId: session.sessionId, deviceToken };
  });
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
  // Only the newest link of a kind works: an older verification link could otherwise switch the
  // address back after a change, and older reset links would outlive the one the user acted on.
  await retireTokens(em, input.userId, input.kind);
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

async function retireTokens(em: EntityManager, userId: string, kind: AuthTokenKind): Promise<void> {
  await kysely(em)
    .updateTable('auth_token')
    .set({ used_at: sql`now()` })
    .where('user_id', '=', userId)
    .where('kind', '=', kind)
    .where('used_at', 'is', null)
    .execute();
}

/** Marks a valid token used and returns it; INVALID_TOKEN when unknown, used, expired or of another kind. */
async function redeem(tx: EntityManager, token: string, kind: AuthTokenKind): Promise<AuthToken> {
  // The conditional update is the single-use guarantee: of two concurrent redemptions, one updates the row.
  const row = await kysely(tx)
    .updateTable('auth_token')
    .set({ used_at: sql`now()` })
    .where('token_hash', '=', hashToken(token))
    .where('kind', '=', kind)
    .where('used_at', 'is', null)
    .where('expires_at', '>', new Date())
    .returning('id')
    .executeTakeFirst();
  if (!row) throw new AppError('INVALID_TOKEN');
  return tx.findOneOrFail(AuthToken, row.id, { populate: ['user'] });
}

export async function verifyEmail(em: EntityManager, token: string): Promise<AuthUser> {
  try {
    return await em.transactional(async (tx) => {
      const record = await redeem(tx, token, 'verify_email');
      const user = record.user as unknown as User;
      await retireTokens(tx, user.id, 'verify_email');
      if (record.email && record.email !== user.email) {
        // A change of address takes effect only once the new address proves it is reachable.
        if (await tx.count(User, { email: record.email, id: { $ne: user.id } })) throw new AppError('EMAIL_TAKEN');
        user.email = record.email;
        // Links mailed to the old address must not outlive it.
        await retireTokens(tx, user.id, 'reset_password');
      }
      user.emailVerifiedAt = new Date();
      await tx.flush();
      return toAuthUser(user);
    });
  } catch (err) {
    if (err instanceof UniqueConstraintViolationException) throw new AppError('EMAIL_TAKEN', { cause: err });
    throw err;
  }
}

export async function resendVerification(em: EntityManager, user: AuthUser): Promise<void> {
  if (user.emailVerified) return;
  await claim(em, { rule: rules.verifyAccount, key: user.id, now: new Date() });
  await em.transactional((tx) => enqueue(tx, 'email__verify_address', { userId: user.id, email: user.email }));
}

/**
 * Always the same answer and the same work, whether or not the address has an account: the worker
 * looks the address up (and applies the per-account limit) where no response can time it.
 */
export async function requestPasswordReset(
  em: EntityManager,
  input: { email: string; meta: RequestMeta },
): Promise<void> {
  await claim(em, { rule: rules.resetIp, key: ipThrottleKey(input.meta.ip), now: new Date() });
  await em.transactional((tx) => enqueue(tx, 'email__password_reset', { email: input.email }));
}

/**
 * The worker's half of a reset request: issues a token and returns it with the account, or null when
 * there is no such (enabled) account or it asked too often. Nothing here reaches the requester.
 */
export async function issuePasswordReset(
  em: EntityManager,
  email: string,
): Promise<{ user: User; token: string } | null> {
  const user = await em.findOne(User, { email, disabledAt: null });
  if (!user) return null;
  try {
    await claim(em, { rule: rules.resetAccount, key: user.id, now: new Date() });
  } catch (err) {
    // Over the limit: nothing to send. Anything else (a lost connection) fails the job, which is retried,
    // rather than dropping the email.
    if (err instanceof AppError && err.code === 'RATE_LIMITED') return null;
    throw err;
  }
  return { user, token: await issueEmailToken(em, { userId: user.id, kind: 'reset_password', email: null }) };
}

/** Sets a new password from an emailed token and ends every session of the account. */
export async function resetPassword(em: EntityManager, input: { token: string; password: string }): Promise<void> {
  await assertAcceptablePassword(input.password);
  const passwordHash = await hashPassword(input.password);
  await em.transactional(async (tx) => {
    const record = await redeem(tx, input.token, 'reset_password');
    await replacePassword(tx, record.user as unknown as User, passwordHash);
  });
}

/**
 * An operator's reset (`pnpm db:admin:reset-password`), for an admin who lost the password and so the
 * way into the console: the same as an emailed reset, without the email. NOT_FOUND for an unknown address.
 */
export async function resetPasswordByOperator(
  em: EntityManager,
  input: { email: string; password: string },
): Promise<{ userId: string; role: string }> {
  await assertAcceptablePassword(input.password);
  const passwordHash = await hashPassword(input.password);
  return em.transactional(async (tx) => {
    const user = await tx.findOne(User, { email: input.email.toLowerCase() });
    if (!user) throw new AppError('USER_NOT_FOUND', { message: `No account has the address ${input.email}.` });
    await replacePassword(tx, user, passwordHash);
    return { userId: user.id, role: user.role };
  });
}

/** A reset of either kind: the new hash, every session and known device ended, the log-in block lifted. */
async function replacePassword(tx: EntityManager, user: User, passwordHash: string): Promise<void> {
  user.passwordHash = passwordHash;
  await tx.flush();
  await retireTokens(tx, user.id, 'reset_password');
  await invalidateUserSessions(tx, user.id);
  // A reset often means the password leaked: a device that logged in with it may be the thief's.
  await forgetDevices(tx, user.id);
  // Whoever reset it controls the mailbox (or the server): lift the log-in block they may be under.
  // (By prefix, not LIKE: an address may hold `_` or `%`, which would match other accounts' keys.)
  await kysely(tx)
    .deleteFrom('auth_throttle')
    .where((eb) =>
      eb.or([
        eb.and([eb('bucket', '=', rules.loginAccount.bucket), eb('key', '=', user.email)]),
        eb.and([
          eb('bucket', '=', rules.loginAccountIp.bucket),
          eb.fn<boolean>('starts_with', [eb.ref('key'), eb.val(`${user.email} `)]),
        ]),
      ]),
    )
    .execute();
}

export async function updateProfile(em: EntityManager, userId: string, input: { name: string }): Promise<AuthUser> {
  const user = await em.findOneOrFail(User, userId);
  user.name = input.name;
  await em.flush();
  return toAuthUser(user);
}

/** Checks the current password, throttled like log-ins, so this is no side door for guessing. */
async function assertCurrentPassword(em: EntityManager, user: User, password: string): Promise<void> {
  if (!user.passwordHash) {
    throw new AppError('CONFLICT', { message: 'This account has no password yet; set one with a password reset.' });
  }
  const attempt = { rule: rules.passwordCheck, key: user.id, now: new Date() };
  await claim(em, attempt);
  if (!(await verifyPassword(user.passwordHash, password))) {
    throw new AppError('INVALID_CREDENTIALS', { message: 'The current password is wrong.' });
  }
  await clearThrottle(em, attempt);
}

/**
 * Changes the password and ends every other session (the current one stays signed in); every known
 * device but the caller's (`deviceToken`, when it has one) must log in as a stranger again.
 */
export async function changePassword(
  em: EntityManager,
  input: {
    userId: string;
    sessionId: string;
    currentPassword: string;
    newPassword: string;
    deviceToken?: string | null;
  },
): Promise<void> {
  const user = await findWithPassword(em, { id: input.userId });
  if (!user) throw new AppError('UNAUTHENTICATED');
  await assertCurrentPassword(em, user, input.currentPassword);
  await assertAcceptablePassword(input.newPassword);
  const passwordHash = await hashPassword(input.newPassword);
  await em.transactional(async (tx) => {
    await tx.nativeUpdate(User, { id: user.id }, { passwordHash });
    await retireTokens(tx, user.id, 'reset_password');
    await invalidateUserSessions(tx, user.id, input.sessionId);
    await forgetDevices(tx, user.id, input.deviceToken);
  });
}

/**
 * Starts a change of address: nothing changes until the link sent to the new address is opened. The
 * answer is the same whether or not the address is taken (the worker sends nothing to a taken one),
 * so this is no way to probe for accounts; each user may ask a few times an hour.
 */
export async function changeEmail(
  em: EntityManager,
  input: { userId: string; currentPassword: string; newEmail: string },
): Promise<{ pendingEmail: string }> {
  const user = await findWithPassword(em, { id: input.userId });
  if (!user) throw new AppError('UNAUTHENTICATED');
  await assertCurrentPassword(em, user, input.currentPassword);
  if (input.newEmail === user.email) throw new AppError('CONFLICT', { message: 'That is already your address.' });
  await claim(em, { rule: rules.verifyAccount, key: user.id, now: new Date() });
  await em.transactional((tx) => enqueue(tx, 'email__verify_address', { userId: user.id, email: input.newEmail }));
  return { pendingEmail: input.newEmail };
}
