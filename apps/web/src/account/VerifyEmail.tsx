import { useMutation, useQueryClient } from '@tanstack/react-query';
import { Link } from 'react-router';
import { useTRPC } from '../trpc.ts';
import { ErrorNotice } from '../ui/status.tsx';
import { useEmailToken } from './emailToken.ts';

export default function VerifyEmail() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const { token, used } = useEmailToken('verify');
  const verify = useMutation(
    trpc.auth.verifyEmail.mutationOptions({
      onSuccess: () => {
        used();
        void queryClient.invalidateQueries({ queryKey: trpc.auth.me.queryKey() });
      },
    }),
  );
  return (
    <section>
      <h1>Verify your email address</h1>
      {verify.data ? (
        <p role="status" className="ok">
          {verify.data.email} is verified. <Link to="/sign-in">Sign in</Link> or <Link to="/">go shopping</Link>.
        </p>
      ) : token ? (
        <button type="button" onClick={() => verify.mutate({ token })} disabled={verify.isPending}>
          Verify my address
        </button>
      ) : (
        <p>This page needs the link from your email. Open the link again, or ask for a new one from your account.</p>
      )}
      <ErrorNotice error={verify.error} />
    </section>
  );
}
