import {
  authUserDto,
  emailSchema,
  invalidateUserSessions,
  type LoggedIn,
  listSessions,
  logIn,
  logOut,
  nameSchema,
  passwordSchema,
  requestPasswordReset,
  resendVerification,
  resetPassword,
  revokeSession,
  sessionDto,
  signUp,
  tokenSchema,
  verifyEmail,
} from '@keelson/auth';
import { AppError } from '@keelson/errors';
import { z } from 'zod';
import type { Context } from '../context.ts';
import { authedProcedure, publicProcedure, router } from '../trpc.ts';

const loggedIn = z.object({ user: authUserDto, token: z.string(), deviceToken: z.string() });
const ok = z.object({ ok: z.literal(true) });
/** The one answer of a sign-up, whether the address was free or taken (the owner is emailed instead). */
const signUpAnswer = z.object({ status: z.literal('verification_sent'), email: z.string() });

const meta = (ctx: Context) => ({ ip: ctx.request.ip, userAgent: ctx.request.userAgent });

/**
 * Hands a new session and device token to the client (cookies for browsers, fields of the answer for
 * the others). Logging in always starts a new session: whatever token came with the request stops
 * working (no fixation).
 */
async function startSession(
  ctx: Context & { em: Parameters<typeof logOut>[0] },
  result: LoggedIn,
): Promise<z.infer<typeof loggedIn>> {
  if (ctx.request.credential) await logOut(ctx.em, ctx.sessions, ctx.request.credential.token);
  ctx.setSessionCookie(result.token);
  ctx.setDeviceCookie(result.deviceToken);
  return { user: result.user, token: result.token, deviceToken: result.deviceToken };
}

export const authRouter = router({
  /**
   * Creates a customer account and emails a verification link; the client logs in next. The answer is
   * the same when the address already has an account (its owner is emailed instead), so sign-up tells
   * nobody which addresses have accounts; that is also why it starts no session.
   */
  signUp: publicProcedure
    .input(z.object({ email: emailSchema, password: passwordSchema, name: nameSchema }))
    .output(signUpAnswer)
    .mutation(async ({ ctx, input }) => {
      await signUp(ctx.em, { ...input, meta: meta(ctx) });
      return { status: 'verification_sent' as const, email: input.email };
    }),

  /**
   * Starts a new session. The token is also set as an HttpOnly cookie for browsers, and so is the device
   * token: a client that sends it back with its next log-ins (the cookie does it for browsers, others
   * pass `deviceToken`) is throttled per device, so nobody guessing elsewhere can lock it out.
   */
  logIn: publicProcedure
    .input(
      z.object({
        email: emailSchema,
        password: z.string().min(1).max(256),
        deviceToken: z.string().min(1).max(256).optional(),
      }),
    )
    .output(loggedIn)
    .mutation(async ({ ctx, input }) => {
      const deviceToken = input.deviceToken ?? ctx.request.deviceToken ?? null;
      const user = await logIn(ctx.em, ctx.sessions, { ...input, deviceToken, meta: meta(ctx) }).catch(
        (err: unknown) => {
          // Counted here, where the outcome is known, so the auth package needs no metrics of its own.
          if (err instanceof AppError && err.code === 'INVALID_CREDENTIALS') ctx.metrics?.loginFailed();
          throw err;
        },
      );
      return startSession(ctx, user);
    }),

  /** Ends the current session server-side and clears the cookie. Safe to call when signed out. */
  logOut: publicProcedure.output(ok).mutation(async ({ ctx }) => {
    const credential = ctx.request.credential;
    if (credential) await logOut(ctx.em, ctx.sessions, credential.token);
    ctx.setSessionCookie(null);
    return { ok: true as const };
  }),

  /** How one may sign in here: always with a password; `oidc` when a provider is configured (`/auth/oidc/start`). */
  signInOptions: publicProcedure
    .output(z.object({ password: z.literal(true), oidc: z.boolean() }))
    .query(({ ctx }) => ({ password: true as const, oidc: ctx.oidc })),

  /** The signed-in user, or null. */
  me: publicProcedure.output(authUserDto.nullable()).query(async ({ ctx }) => (await ctx.session())?.user ?? null),

  sessions: router({
    /** The caller's active sessions, most recently used first. */
    list: authedProcedure
      .output(z.array(sessionDto))
      .query(({ ctx }) => listSessions(ctx.em, ctx.user.id, ctx.sessionId)),
    /** Ends one of the caller's sessions; another user's session id answers NOT_FOUND. */
    revoke: authedProcedure
      .input(z.object({ id: z.uuid() }))
      .output(ok)
      .mutation(async ({ ctx, input }) => {
        if (!(await revokeSession(ctx.em, ctx.user.id, input.id))) throw new AppError('SESSION_NOT_FOUND');
        return { ok: true as const };
      }),
    /** Ends every session of the caller but the current one. */
    revokeOthers: authedProcedure.output(z.object({ revoked: z.number().int() })).mutation(async ({ ctx }) => ({
      revoked: await invalidateUserSessions(ctx.em, ctx.user.id, ctx.sessionId),
    })),
  }),

  verifyEmail: publicProcedure
    .input(z.object({ token: tokenSchema }))
    .output(authUserDto)
    .mutation(({ ctx, input }) => verifyEmail(ctx.em, input.token)),

  resendVerification: authedProcedure.output(ok).mutation(async ({ ctx }) => {
    await resendVerification(ctx.em, ctx.user);
    return { ok: true as const };
  }),

  /** Same answer whether or not the address has an account. */
  requestPasswordReset: publicProcedure
    .input(z.object({ email: emailSchema }))
    .output(ok)
    .mutation(async ({ ctx, input }) => {
      await requestPasswordReset(ctx.em, { email: input.email, meta: meta(ctx) });
      return { ok: true as const };
    }),

  /** Sets a new password from an emailed token; every session of the account ends. */
  resetPassword: publicProcedure
    .input(z.object({ token: tokenSchema, password: passwordSchema }))
    .output(ok)
    .mutation(async ({ ctx, input }) => {
      await resetPassword(ctx.em, input);
      return { ok: true as const };
    }),
});
