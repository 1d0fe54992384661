/**
 * Live data through tRPC subscriptions (one WebSocket for the page, resumed from the last event id by
 * the client when it reconnects). A subscription that the server ends because the session ended answers
 * UNAUTHORIZED: the app then signs out, as for any other call.
 */
import { useQueryClient } from '@tanstack/react-query';
import { useSubscription } from '@trpc/tanstack-react-query';
import { isSignedOut } from './errors.ts';
import { onSignedOut } from './session.tsx';

export function useLive<TOutput, TError>(opts: Parameters<typeof useSubscription<TOutput, TError>>[0]) {
  const queryClient = useQueryClient();
  return useSubscription<TOutput, TError>({
    ...opts,
    onError: (err) => {
      if (isSignedOut(err)) onSignedOut(queryClient);
      opts.onError?.(err);
    },
  });
}
