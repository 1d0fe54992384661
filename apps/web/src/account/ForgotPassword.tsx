import { useMutation } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { useTRPC } from '../trpc.ts';
import { Field, fieldIssues } from '../ui/form.tsx';
import { ErrorNotice } from '../ui/status.tsx';

export default function ForgotPassword() {
  const trpc = useTRPC();
  const [email, setEmail] = useState('');
  const request = useMutation(trpc.auth.requestPasswordReset.mutationOptions());
  const submit = (e: FormEvent) => {
    e.preventDefault();
    request.mutate({ email });
  };
  const issues = fieldIssues(request.error);
  return (
    <section>
      <h1>Forgot your password?</h1>
      {request.isSuccess ? (
        <p role="status">
          If {email} has an account, a link to choose a new password is on its way. It works for an hour.
        </p>
      ) : (
        <form onSubmit={submit}>
          <Field
            label="Email"
            type="email"
            autoComplete="email"
            value={email}
            onChange={(e) => setEmail(e.target.value)}
            issue={issues.email}
            required
          />
          <button type="submit" disabled={request.isPending}>
            Send me a link
          </button>
        </form>
      )}
      {Object.keys(issues).length === 0 ? <ErrorNotice error={request.error} /> : null}
    </section>
  );
}
