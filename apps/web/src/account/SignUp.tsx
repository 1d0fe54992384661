import { useMutation } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { Link } from 'react-router';
import { useTRPC } from '../trpc.ts';
import { Field, fieldIssues } from '../ui/form.tsx';
import { ErrorNotice } from '../ui/status.tsx';

export default function SignUp() {
  const trpc = useTRPC();
  const [form, setForm] = useState({ name: '', email: '', password: '' });
  const signUp = useMutation(trpc.auth.signUp.mutationOptions());
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    signUp.mutate(form);
  };
  const issues = fieldIssues(signUp.error);
  if (signUp.data) {
    return (
      <section>
        <h1>Check your email</h1>
        <p role="status">
          We sent a link to <strong>{signUp.data.email}</strong>. Open it to verify your address, then{' '}
          <Link to="/sign-in">sign in</Link>.
        </p>
      </section>
    );
  }
  return (
    <section>
      <h1>Create an account</h1>
      <form onSubmit={submit}>
        <Field label="Name" autoComplete="name" value={form.name} onChange={set('name')} issue={issues.name} required />
        <Field
          label="Email"
          type="email"
          autoComplete="email"
          value={form.email}
          onChange={set('email')}
          issue={issues.email}
          required
        />
        <Field
          label="Password"
          type="password"
          autoComplete="new-password"
          value={form.password}
          onChange={set('password')}
          issue={issues.password}
          hint="At least 12 characters; a passphrase of a few words is best."
          required
        />
        <button type="submit" disabled={signUp.isPending}>
          Create the account
        </button>
      </form>
      {Object.keys(issues).length === 0 ? <ErrorNotice error={signUp.error} /> : null}
      <p>
        Already have an account? <Link to="/sign-in">Sign in</Link>
      </p>
    </section>
  );
}
