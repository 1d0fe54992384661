import { page } from '../lazyPage.ts';

export const storeRoutes = [
  page('/', () => import('./Catalogue.tsx')),
  page('/products/:slug', () => import('./Product.tsx')),
  page('/cart', () => import('./Cart.tsx')),
];
