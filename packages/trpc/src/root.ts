import { accountRouter } from './routers/account.ts';
import { analyticsRouter } from './routers/analytics.ts';
import { authRouter } from './routers/auth.ts';
import { cartRouter } from './routers/cart.ts';
import { catalogRouter } from './routers/catalog.ts';
import { chatRouter } from './routers/chat.ts';
import { dashboardRouter } from './routers/dashboard.ts';
import { jobsRouter } from './routers/jobs.ts';
import { notificationsRouter } from './routers/notifications.ts';
import { ordersRouter } from './routers/orders.ts';
import { reportsRouter } from './routers/reports.ts';
import { usersRouter } from './routers/users.ts';
import { router } from './trpc.ts';

export const appRouter = router({
  auth: authRouter,
  account: accountRouter,
  users: usersRouter,
  catalog: catalogRouter,
  cart: cartRouter,
  orders: ordersRouter,
  notifications: notificationsRouter,
  chat: chatRouter,
  reports: reportsRouter,
  analytics: analyticsRouter,
  jobs: jobsRouter,
  dashboard: dashboardRouter,
});

export type AppRouter = typeof appRouter;
