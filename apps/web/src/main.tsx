import { MutationCache, QueryCache, QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { RouterProvider } from 'react-router/dom';
import { startAnalytics } from './analytics.ts';
import { errorInfo, isSignedOut } from './errors.ts';
import { router } from './routes.tsx';
import { onSignedOut } from './session.tsx';
import { TRPCProvider, trpcClient } from './trpc.ts';
import './styles.css';

// A session that ended elsewhere (revoked, expired, password changed) answers UNAUTHORIZED to whatever
// the page asks next: the app then forgets the user and sends them to sign in, and back afterwards.
const signedOutOn = (err: unknown) => {
  if (isSignedOut(err)) onSignedOut(queryClient);
};
const queryClient: QueryClient = new QueryClient({
  queryCache: new QueryCache({ onError: signedOutOn }),
  mutationCache: new MutationCache({ onError: signedOutOn }),
  defaultOptions: {
    queries: {
      staleTime: 10_000,
      // A refusal (4xx) will not change by asking again; a lost connection may.
      retry: (failures, err) => failures < 2 && ['NETWORK', 'INTERNAL_SERVER_ERROR'].includes(errorInfo(err).code),
    },
  },
});

startAnalytics(trpcClient);

const root = document.getElementById('root');
if (!root) throw new Error('#root is missing from index.html');
createRoot(root).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        <RouterProvider router={router} />
      </TRPCProvider>
    </QueryClientProvider>
  </StrictMode>,
);
