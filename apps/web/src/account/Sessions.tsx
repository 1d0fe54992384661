import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { RequireUser } from '../session.tsx';
import { useTRPC } from '../trpc.ts';
import { dateTime } from '../ui/format.ts';
import { ErrorNotice, Loading } from '../ui/status.tsx';
import { AccountNav } from './AccountNav.tsx';

function SessionList() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const sessions = useQuery(trpc.auth.sessions.list.queryOptions());
  const refresh = { onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.auth.sessions.list.queryKey() }) };
  const revoke = useMutation(trpc.auth.sessions.revoke.mutationOptions(refresh));
  const revokeOthers = useMutation(trpc.auth.sessions.revokeOthers.mutationOptions(refresh));
  if (sessions.isPending) return <Loading what="Loading your sessions" />;
  if (sessions.error) return <ErrorNotice error={sessions.error} />;
  const others = sessions.data.filter((s) => !s.current).length;
  return (
    <>
      <table>
        <caption className="sr-only">Your sessions</caption>
        <thead>
          <tr>
            <th scope="col">Device</th>
            <th scope="col">Address</th>
            <th scope="col">Signed in</th>
            <th scope="col">Last used</th>
            <th scope="col">
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {sessions.data.map((s) => (
            <tr key={s.id} data-current={s.current || undefined}>
              <td>
                {s.userAgent ?? 'Unknown device'} {s.current ? <strong>(this one)</strong> : null}
              </td>
              <td>{s.ip ?? '—'}</td>
              <td>{dateTime(s.createdAt)}</td>
              <td>{dateTime(s.lastUsedAt)}</td>
              <td>
                {s.current ? null : (
                  <button type="button" className="secondary" onClick={() => revoke.mutate({ id: s.id })}>
                    End<span className="sr-only"> the session last used {dateTime(s.lastUsedAt)}</span>
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p>
        <button type="button" onClick={() => revokeOthers.mutate()} disabled={others === 0 || revokeOthers.isPending}>
          Sign out everywhere else
        </button>
        {revokeOthers.data ? <span role="status"> Ended {revokeOthers.data.revoked} session(s).</span> : null}
      </p>
      <ErrorNotice error={revoke.error ?? revokeOthers.error} />
    </>
  );
}

export default function Sessions() {
  return (
    <RequireUser>
      {() => (
        <section>
          <h1>Your sessions</h1>
          <AccountNav />
          <SessionList />
        </section>
      )}
    </RequireUser>
  );
}
