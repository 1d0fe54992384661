import { useMutation } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { Link } from 'react-router';
import { useTRPC } from '../trpc.ts';
import { Field, fieldIssues } from '../ui/form.tsx';
import { ErrorNotice } from '../ui/status.tsx';
import { useEmailToken } from './emailToken.ts';

export default function ResetPassword() {
  const trpc = useTRPC();
  const { token, used } = useEmailToken('reset');
  const [password, setPassword] = useState('');
  const reset = useMutation(trpc.auth.resetPassword.mutationOptions({ onSuccess: used }));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (token) reset.mutate({ token, password });
  };
  const issues = fieldIssues(reset.error);
  return (
    <section>
      <h1>Choose a new password</h1>
      {reset.isSuccess ? (
        <p role="status" className="ok">
          Your password is changed, and every session of the account has ended. <Link to="/sign-in">Sign in</Link> with
          the new one.
        </p>
      ) : token ? (
        <form onSubmit={submit}>
          <Field
            label="New password"
            type="password"
            autoComplete="new-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            issue={issues.password}
            hint="At least 12 characters."
            required
          />
          <button type="submit" disabled={reset.isPending}>
            Set the password
          </button>
        </form>
      ) : (
        <p>
          This page needs the link from your email. <Link to="/forgot-password">Ask for a new link</Link>.
        </p>
      )}
      {Object.keys(issues).length === 0 ? <ErrorNotice error={reset.error} /> : null}
    </section>
  );
}
