import { page } from '../lazyPage.ts';

export const accountRoutes = [
  page('/sign-in', () => import('./SignIn.tsx')),
  page('/sign-up', () => import('./SignUp.tsx')),
  page('/forgot-password', () => import('./ForgotPassword.tsx')),
  page('/verify-email', () => import('./VerifyEmail.tsx')),
  page('/reset-password', () => import('./ResetPassword.tsx')),
  page('/account', () => import('./Profile.tsx')),
  page('/account/sessions', () => import('./Sessions.tsx')),
  page('/account/notifications', () => import('./Notifications.tsx')),
  page('/account/support', () => import('./Support.tsx')),
  page('/account/support/:id', () => import('./SupportConversation.tsx')),
  page('/orders', () => import('./Orders.tsx')),
  page('/orders/:id', () => import('./Order.tsx')),
];
