/**
 * Every page, each loaded when first opened (one chunk per page, so the first load carries only the
 * frame and the page asked for). The areas own their route lists.
 */
import { createBrowserRouter, type RouteObject, useRouteError } from 'react-router';
import { accountRoutes } from './account/routes.ts';
import { adminRoutes } from './admin/routes.ts';
import { Layout } from './Layout.tsx';
import { storeRoutes } from './store/routes.ts';
import { ErrorNotice } from './ui/status.tsx';

function RouteError() {
  const error = useRouteError();
  return (
    <section>
      <h1>Something went wrong</h1>
      <ErrorNotice error={error} />
      <p>
        <a href="/">Back to the store</a>
      </p>
    </section>
  );
}

function NotFound() {
  return (
    <section>
      <h1>Page not found</h1>
      <p>
        Nothing lives at this address. <a href="/">Back to the store</a>
      </p>
    </section>
  );
}

export const routes: RouteObject[] = [
  {
    Component: Layout,
    ErrorBoundary: RouteError,
    children: [...storeRoutes, ...accountRoutes, ...adminRoutes, { path: '*', Component: NotFound }],
  },
];

export const router = createBrowserRouter(routes);
