/**
 * Live data through tRPC subscriptions (one WebSocket for the page, resumed from the last event id by
 * the client when it reconnects). A subscription that the server ends because the session ended answers
 * UNAUTHORIZED: the app then signs out, as for any other call.
 *
 * `resync` runs each time the subscription (re)starts. A change made before the first event, while the
 * subscription was still being set up or its socket was down with no event id to resume from, is never
 * pushed: the page reads its data again instead.
 */
import { useQueryClient } from '@tanstack/react-query';
import { useSubscription } from '@trpc/tanstack-react-query';
import { isSignedOut } from './errors.ts';
import { onSignedOut } from './session.tsx';

export function useLive<TOutput, TError>(
  opts: Parameters<typeof useSubscription<TOutput, TError>>[0],
  resync?: () => unknown,
) {
  const queryClient = useQueryClient();
  return useSubscription<TOutput, TError>({
    ...opts,
    onStarted: () => {
      resync?.();
      opts.onStarted?.();
    },
    onError: (err) => {
      if (isSignedOut(err)) onSignedOut(queryClient);
      opts.onError?.(err);
    },
  });
}
