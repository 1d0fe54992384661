import { useInfiniteQuery, useMutation, useQueryClient } from '@tanstack/react-query';
import { Link } from 'react-router';
import { RequireUser } from '../session.tsx';
import { type RouterOutputs, useTRPC } from '../trpc.ts';
import { dateTime } from '../ui/format.ts';
import { Empty, ErrorNotice, Loading } from '../ui/status.tsx';
import { AccountNav } from './AccountNav.tsx';

type Notification = RouterOutputs['notifications']['list']['items'][number];

/** Where a notification leads: its support conversation, its order, or for staff its report. */
function linkOf(n: Notification): string | null {
  if (typeof n.data.conversationId === 'string') return `/account/support/${n.data.conversationId}`;
  if (typeof n.data.orderId === 'string') return `/orders/${n.data.orderId}`;
  if (typeof n.data.reportId === 'string') return '/admin/reports';
  return null;
}

function Inbox() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  // New ones arrive live: the header's subscription refetches every notifications.list query.
  const list = useInfiniteQuery(
    trpc.notifications.list.infiniteQueryOptions({ limit: 20 }, { getNextPageParam: (p) => p.nextCursor ?? undefined }),
  );
  const markRead = useMutation(
    trpc.notifications.markRead.mutationOptions({
      onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.notifications.list.pathKey() }),
    }),
  );
  if (list.isPending) return <Loading what="Loading your notifications" />;
  if (list.error) return <ErrorNotice error={list.error} />;
  const items = list.data.pages.flatMap((p) => p.items);
  const unread = list.data.pages[0]?.unreadCount ?? 0;
  return (
    <>
      <p className="row">
        <span>{unread} unread</span>
        <button
          type="button"
          className="secondary"
          onClick={() => markRead.mutate({ all: true })}
          disabled={unread === 0 || markRead.isPending}
        >
          Mark all read
        </button>
      </p>
      {items.length === 0 ? <Empty>Nothing yet: order updates and reports show up here.</Empty> : null}
      <ul className="stack plain" aria-label="Notifications">
        {items.map((n) => {
          const href = linkOf(n);
          return (
            <li key={n.id} className={`card notification${n.readAt ? '' : ' unread'}`}>
              <strong>{href ? <Link to={href}>{n.title}</Link> : n.title}</strong>
              <p>{n.body}</p>
              <p className="row muted">
                <span>{dateTime(n.createdAt)}</span>
                {n.readAt ? (
                  <span>read</span>
                ) : (
                  <button type="button" className="secondary" onClick={() => markRead.mutate({ ids: [n.id] })}>
                    Mark read<span className="sr-only"> “{n.title}”</span>
                  </button>
                )}
              </p>
            </li>
          );
        })}
      </ul>
      {list.hasNextPage ? (
        <button type="button" className="secondary" onClick={() => void list.fetchNextPage()}>
          Older
        </button>
      ) : null}
      <ErrorNotice error={markRead.error} />
    </>
  );
}

export default function Notifications() {
  return (
    <RequireUser>
      {() => (
        <section>
          <h1>Notifications</h1>
          <AccountNav />
          <Inbox />
        </section>
      )}
    </RequireUser>
  );
}
