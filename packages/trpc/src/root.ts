import { accountRouter } from './routers/account.ts';
import { authRouter } from './routers/auth.ts';
import { catalogRouter } from './routers/catalog.ts';
import { usersRouter } from './routers/users.ts';
import { router } from './trpc.ts';

export const appRouter = router({
  auth: authRouter,
  account: accountRouter,
  users: usersRouter,
  catalog: catalogRouter,
});

export type AppRouter = typeof appRouter;
