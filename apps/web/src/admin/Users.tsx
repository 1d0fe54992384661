import { useInfiniteQuery, useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { type Me, RequireAdmin } from '../session.tsx';
import { type RouterOutputs, useTRPC } from '../trpc.ts';
import { dateTime } from '../ui/format.ts';
import { SearchForm } from '../ui/SearchForm.tsx';
import { Empty, ErrorNotice, Loading } from '../ui/status.tsx';
import { AdminNav } from './AdminNav.tsx';

type User = RouterOutputs['users']['get'];

function UserRow({ user, me }: { user: User; me: Me }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const refresh = { onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.users.list.pathKey() }) };
  const setRole = useMutation(trpc.users.setRole.mutationOptions(refresh));
  const disable = useMutation(trpc.users.disable.mutationOptions(refresh));
  const enable = useMutation(trpc.users.enable.mutationOptions(refresh));
  const revoke = useMutation(trpc.users.revokeSessions.mutationOptions());
  const self = user.id === me.id;
  const error = setRole.error ?? disable.error ?? enable.error ?? revoke.error;
  return (
    <tr>
      <td>
        {user.name}
        <br />
        <span className="muted">{user.email}</span>
      </td>
      <td>
        <label className="sr-only" htmlFor={`role-${user.id}`}>
          Role of {user.email}
        </label>
        <select
          id={`role-${user.id}`}
          value={user.role}
          disabled={self || setRole.isPending}
          onChange={(e) => setRole.mutate({ id: user.id, role: e.target.value === 'admin' ? 'admin' : 'customer' })}
        >
          <option value="customer">customer</option>
          <option value="admin">admin</option>
        </select>
      </td>
      <td>{user.disabled ? <span className="warn">disabled</span> : 'active'}</td>
      <td>{dateTime(user.createdAt)}</td>
      <td className="row">
        {self ? (
          <span className="muted">you</span>
        ) : user.disabled ? (
          <button type="button" className="secondary" onClick={() => enable.mutate({ id: user.id })}>
            Enable<span className="sr-only"> {user.email}</span>
          </button>
        ) : (
          <button type="button" className="secondary" onClick={() => disable.mutate({ id: user.id })}>
            Disable<span className="sr-only"> {user.email}</span>
          </button>
        )}
        {self ? null : (
          <button type="button" className="secondary" onClick={() => revoke.mutate({ id: user.id })}>
            End sessions<span className="sr-only"> of {user.email}</span>
          </button>
        )}
        {revoke.data ? <span role="status">ended {revoke.data.revoked}</span> : null}
        <ErrorNotice error={error} />
      </td>
    </tr>
  );
}

function UserTable({ me }: { me: Me }) {
  const trpc = useTRPC();
  const [q, setQ] = useState('');
  const list = useInfiniteQuery(
    trpc.users.list.infiniteQueryOptions(
      { limit: 50, ...(q ? { q } : {}) },
      { getNextPageParam: (p) => p.nextCursor ?? undefined },
    ),
  );
  const items = list.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <>
      <SearchForm label="Search users" value={q} onSearch={setQ} />
      {list.isPending ? <Loading what="Loading users" /> : null}
      <ErrorNotice error={list.error} />
      {list.isSuccess && items.length === 0 ? <Empty>No users match.</Empty> : null}
      {items.length > 0 ? (
        <table>
          <caption className="sr-only">Users</caption>
          <thead>
            <tr>
              <th scope="col">User</th>
              <th scope="col">Role</th>
              <th scope="col">State</th>
              <th scope="col">Joined</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {items.map((u) => (
              <UserRow key={u.id} user={u} me={me} />
            ))}
          </tbody>
        </table>
      ) : null}
      {list.hasNextPage ? (
        <button type="button" className="secondary" onClick={() => void list.fetchNextPage()}>
          More
        </button>
      ) : null}
    </>
  );
}

export default function Users() {
  return (
    <RequireAdmin>
      {(me) => (
        <section>
          <h1>Users</h1>
          <AdminNav />
          <UserTable me={me} />
        </section>
      )}
    </RequireAdmin>
  );
}
