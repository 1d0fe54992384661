import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { useNavigate } from 'react-router';
import { type Me, onSignedOut, RequireUser } from '../session.tsx';
import { useTRPC } from '../trpc.ts';
import { Field, fieldIssues } from '../ui/form.tsx';
import { ErrorNotice } from '../ui/status.tsx';
import { AccountNav } from './AccountNav.tsx';

function NameForm({ me }: { me: Me }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [name, setName] = useState(me.name);
  const update = useMutation(
    trpc.account.updateProfile.mutationOptions({
      onSuccess: (user) => queryClient.setQueryData(trpc.auth.me.queryKey(), user),
    }),
  );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    update.mutate({ name });
  };
  const issues = fieldIssues(update.error);
  return (
    <form onSubmit={submit} aria-labelledby="profile-h">
      <h2 id="profile-h">Profile</h2>
      <Field label="Name" value={name} onChange={(e) => setName(e.target.value)} issue={issues.name} required />
      <button type="submit" disabled={update.isPending}>
        Save
      </button>
      {update.isSuccess ? (
        <p role="status" className="ok">
          Saved.
        </p>
      ) : null}
      {Object.keys(issues).length === 0 ? <ErrorNotice error={update.error} /> : null}
    </form>
  );
}

function PasswordForm() {
  const trpc = useTRPC();
  const [form, setForm] = useState({ currentPassword: '', newPassword: '' });
  const change = useMutation(
    trpc.account.changePassword.mutationOptions({
      onSuccess: () => setForm({ currentPassword: '', newPassword: '' }),
    }),
  );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    change.mutate(form);
  };
  const issues = fieldIssues(change.error);
  return (
    <form onSubmit={submit} aria-labelledby="password-h">
      <h2 id="password-h">Password</h2>
      <Field
        label="Current password"
        type="password"
        autoComplete="current-password"
        value={form.currentPassword}
        onChange={(e) => setForm({ ...form, currentPassword: e.target.value })}
        issue={issues.currentPassword}
        required
      />
      <Field
        label="New password"
        type="password"
        autoComplete="new-password"
        value={form.newPassword}
        onChange={(e) => setForm({ ...form, newPassword: e.target.value })}
        issue={issues.newPassword}
        hint="At least 12 characters. Your other sessions end when it changes."
        required
      />
      <button type="submit" disabled={change.isPending}>
        Change the password
      </button>
      {change.isSuccess ? (
        <p role="status" className="ok">
          Password changed; your other sessions have ended.
        </p>
      ) : null}
      {Object.keys(issues).length === 0 ? <ErrorNotice error={change.error} /> : null}
    </form>
  );
}

function EmailForm({ me }: { me: Me }) {
  const trpc = useTRPC();
  const [form, setForm] = useState({ currentPassword: '', newEmail: '' });
  const change = useMutation(trpc.account.changeEmail.mutationOptions());
  const resend = useMutation(trpc.auth.resendVerification.mutationOptions());
  const submit = (e: FormEvent) => {
    e.preventDefault();
    change.mutate(form);
  };
  const issues = fieldIssues(change.error);
  return (
    <form onSubmit={submit} aria-labelledby="email-h">
      <h2 id="email-h">Email</h2>
      <p>
        {me.email}{' '}
        {me.emailVerified ? <span className="ok">(verified)</span> : <span className="warn">(not verified)</span>}
      </p>
      {!me.emailVerified ? (
        <p>
          <button type="button" className="secondary" onClick={() => resend.mutate()} disabled={resend.isPending}>
            Send the verification link again
          </button>
          {resend.isSuccess ? <span role="status"> Sent.</span> : null}
          <ErrorNotice error={resend.error} />
        </p>
      ) : null}
      <Field
        label="New email"
        type="email"
        autoComplete="email"
        value={form.newEmail}
        onChange={(e) => setForm({ ...form, newEmail: e.target.value })}
        issue={issues.newEmail}
        required
      />
      <Field
        label="Current password (to change the email)"
        type="password"
        autoComplete="current-password"
        value={form.currentPassword}
        onChange={(e) => setForm({ ...form, currentPassword: e.target.value })}
        issue={issues.currentPassword}
        required
      />
      <button type="submit" disabled={change.isPending}>
        Change the email
      </button>
      {change.data ? (
        <p role="status" className="ok">
          Check {change.data.pendingEmail}: the address changes once you open the link we sent there.
        </p>
      ) : null}
      {Object.keys(issues).length === 0 ? <ErrorNotice error={change.error} /> : null}
    </form>
  );
}

function LogOut() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const logOut = useMutation(
    trpc.auth.logOut.mutationOptions({
      onSuccess: () => {
        onSignedOut(queryClient);
        navigate('/');
      },
    }),
  );
  return (
    <p>
      <button type="button" className="secondary" onClick={() => logOut.mutate()} disabled={logOut.isPending}>
        Log out
      </button>
      <ErrorNotice error={logOut.error} />
    </p>
  );
}

export default function Profile() {
  return (
    <RequireUser>
      {(me) => (
        <section>
          <h1>Your account</h1>
          <AccountNav />
          <div className="grid">
            <div className="panel">
              <NameForm me={me} />
            </div>
            <div className="panel">
              <EmailForm me={me} />
            </div>
            <div className="panel">
              <PasswordForm />
            </div>
          </div>
          <LogOut />
        </section>
      )}
    </RequireUser>
  );
}
