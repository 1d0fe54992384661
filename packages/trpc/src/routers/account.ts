import {
  authUserDto,
  changeEmail,
  changePassword,
  emailSchema,
  nameSchema,
  passwordSchema,
  updateProfile,
} from '@keelson/auth';
import { z } from 'zod';
import { authedProcedure, router } from '../trpc.ts';

export const accountRouter = router({
  updateProfile: authedProcedure
    .input(z.object({ name: nameSchema }))
    .output(authUserDto)
    .mutation(({ ctx, input }) => updateProfile(ctx.em, ctx.user.id, input)),

  /** Needs the current password; every other session ends, and every known device but the caller's. */
  changePassword: authedProcedure
    .input(
      z.object({
        currentPassword: z.string().min(1).max(256),
        newPassword: passwordSchema,
        /** The caller's device token, for clients without cookies (as for `auth.logIn`): that device stays known. */
        deviceToken: z.string().min(1).max(256).optional(),
      }),
    )
    .output(z.object({ ok: z.literal(true) }))
    .mutation(async ({ ctx, input }) => {
      await changePassword(ctx.em, {
        userId: ctx.user.id,
        sessionId: ctx.sessionId,
        ...input,
        deviceToken: input.deviceToken ?? ctx.request.deviceToken ?? null,
      });
      return { ok: true as const };
    }),

  /** Needs the current password; the address changes once the link sent to it is opened. */
  changeEmail: authedProcedure
    .input(z.object({ currentPassword: z.string().min(1).max(256), newEmail: emailSchema }))
    .output(z.object({ pendingEmail: z.string() }))
    .mutation(({ ctx, input }) => changeEmail(ctx.em, { userId: ctx.user.id, ...input })),
});
