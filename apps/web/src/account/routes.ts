import { page } from '../lazyPage.ts';

export const accountRoutes = [page('/sign-in', () => import('./SignIn.tsx'))];
