/** The customer's support conversations, with unread replies counted live, and a new question. */
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from 'react-router';
import '../chat/chat.css';
import { StartConversation } from '../chat/StartConversation.tsx';
import { useLive } from '../live.ts';
import { RequireUser } from '../session.tsx';
import { useTRPC } from '../trpc.ts';
import { Empty, ErrorNotice, LiveIndicator, Loading } from '../ui/status.tsx';
import { AccountNav } from './AccountNav.tsx';

function SupportList() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const list = useQuery(trpc.chat.list.queryOptions({}));
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.chat.list.pathKey() });
  const live = useLive(trpc.chat.onInbox.subscriptionOptions({}, { onData: refresh }), refresh);
  return (
    <>
      <h1 className="row">
        Support <LiveIndicator state={live.status} />
      </h1>
      <AccountNav />
      {list.isPending ? <Loading what="Loading your conversations" /> : null}
      <ErrorNotice error={list.error} />
      {list.data && list.data.items.length === 0 ? <Empty>No conversations yet.</Empty> : null}
      <ul className="chat-list">
        {list.data?.items.map((c) => (
          <li key={c.id}>
            <Link to={`/account/support/${c.id}`}>{c.subject}</Link>
            <span className={`badge chat-status-${c.status}`}>{c.status}</span>
            {c.unread > 0 ? (
              <span className="badge unread" data-testid="chat-unread">
                {c.unread} new
              </span>
            ) : null}
            <span className="muted">{c.lastMessage?.preview ?? ''}</span>
          </li>
        ))}
      </ul>
      <h2>Ask a question</h2>
      <StartConversation label="Your question" />
    </>
  );
}

export default function Support() {
  return <RequireUser>{() => <SupportList />}</RequireUser>;
}
