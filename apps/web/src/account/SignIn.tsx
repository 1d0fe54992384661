import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { safeReturnTo } from '../session.tsx';
import { useTRPC } from '../trpc.ts';
import { Field, fieldIssues } from '../ui/form.tsx';
import { ErrorNotice } from '../ui/status.tsx';
import './account.css';

/** What `/sign-in?error=CODE` (the OIDC flow's way back after a refusal) says. */
const SIGN_IN_ERRORS: Record<string, string> = {
  OIDC_REJECTED: 'Signing in with your provider was refused or expired. Try again, or use your password.',
  ACCOUNT_DISABLED: 'This account is disabled. Contact the store.',
  EMAIL_TAKEN: 'An account with this email already exists: sign in with its password.',
};

export default function SignIn() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const returnTo = safeReturnTo(params.get('returnTo'));
  const oidcError = params.get('error');
  const options = useQuery(trpc.auth.signInOptions.queryOptions());
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const logIn = useMutation(
    trpc.auth.logIn.mutationOptions({
      onSuccess: async (result) => {
        queryClient.setQueryData(trpc.auth.me.queryKey(), result.user);
        await queryClient.invalidateQueries();
        navigate(returnTo, { replace: true });
      },
    }),
  );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    logIn.mutate({ email, password });
  };
  const issues = fieldIssues(logIn.error);
  return (
    <section>
      <h1>Sign in</h1>
      {oidcError ? (
        <p className="error" role="alert">
          {SIGN_IN_ERRORS[oidcError] ?? 'Signing in did not work. Try again.'}
        </p>
      ) : null}
      <form onSubmit={submit}>
        <Field
          label="Email"
          type="email"
          autoComplete="username"
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          issue={issues.email}
          required
        />
        <Field
          label="Password"
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          issue={issues.password}
          required
        />
        <button type="submit" disabled={logIn.isPending}>
          {logIn.isPending ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      {Object.keys(issues).length === 0 ? <ErrorNotice error={logIn.error} /> : null}
      {options.data?.oidc ? (
        <p>
          <a href={`/auth/oidc/start?returnTo=${encodeURIComponent(returnTo)}`}>Sign in with your provider</a>
        </p>
      ) : null}
      <p>
        New here? <Link to="/sign-up">Create an account</Link> ·{' '}
        <Link to="/forgot-password">Forgot your password?</Link>
      </p>
    </section>
  );
}
