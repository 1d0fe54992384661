import { page } from '../lazyPage.ts';

export const storeRoutes = [page('/', () => import('./Catalogue.tsx'))];
