import {
  disableUser,
  enableUser,
  getUser,
  listUsers,
  listUsersInput,
  revokeUserSessions,
  roleSchema,
  setRole,
  userDto,
} from '@keelson/auth';
import { z } from 'zod';
import { adminProcedure, router } from '../trpc.ts';

const byId = z.object({ id: z.uuid() });

/** Account administration; every procedure needs the admin role. */
export const usersRouter = router({
  list: adminProcedure
    .input(listUsersInput)
    .output(z.object({ items: z.array(userDto), nextCursor: z.string().nullable() }))
    .query(({ ctx, input }) => listUsers(ctx.em, input)),
  get: adminProcedure
    .input(byId)
    .output(userDto)
    .query(({ ctx, input }) => getUser(ctx.em, input.id)),
  setRole: adminProcedure
    .input(byId.extend({ role: roleSchema }))
    .output(userDto)
    .mutation(({ ctx, input }) => setRole(ctx.em, input)),
  /** Blocks log-in and ends every session of the user at once. */
  disable: adminProcedure
    .input(byId)
    .output(userDto)
    .mutation(({ ctx, input }) => disableUser(ctx.em, { id: input.id, actorId: ctx.user.id })),
  enable: adminProcedure
    .input(byId)
    .output(userDto)
    .mutation(({ ctx, input }) => enableUser(ctx.em, input.id)),
  revokeSessions: adminProcedure
    .input(byId)
    .output(z.object({ revoked: z.number().int() }))
    .mutation(({ ctx, input }) => revokeUserSessions(ctx.em, input.id)),
});
