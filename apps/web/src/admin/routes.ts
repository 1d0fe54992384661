import { page } from '../lazyPage.ts';

export const adminRoutes = [page('/admin', () => import('./Dashboard.tsx'))];
