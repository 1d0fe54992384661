import { page } from '../lazyPage.ts';

export const adminRoutes = [
  page('/admin', () => import('./Dashboard.tsx')),
  page('/admin/products', () => import('./Products.tsx')),
  page('/admin/products/new', () => import('./ProductEdit.tsx')),
  page('/admin/products/:id', () => import('./ProductEdit.tsx')),
  page('/admin/orders', () => import('./Orders.tsx')),
  page('/admin/orders/:id', () => import('./OrderAdmin.tsx')),
  page('/admin/users', () => import('./Users.tsx')),
  page('/admin/reports', () => import('./Reports.tsx')),
  page('/admin/jobs', () => import('./Jobs.tsx')),
  page('/admin/support', () => import('./Support.tsx')),
  page('/admin/support/:id', () => import('./SupportConversation.tsx')),
];
