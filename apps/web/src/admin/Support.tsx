/** Staff: the support inbox (open or closed, all or mine), unread counts and order context, live. */
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router';
import '../chat/chat.css';
import { useLive } from '../live.ts';
import { RequireAdmin } from '../session.tsx';
import { useTRPC } from '../trpc.ts';
import { money } from '../ui/format.ts';
import { Empty, ErrorNotice, LiveIndicator, Loading } from '../ui/status.tsx';
import { AdminNav } from './AdminNav.tsx';

const since = (d: Date) => {
  const m = Math.round((Date.now() - d.getTime()) / 60_000);
  return m < 1 ? 'just now' : m < 60 ? `${m} min` : `${Math.round(m / 60)} h`;
};

function Inbox() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [status, setStatus] = useState<'open' | 'closed'>('open');
  const [mine, setMine] = useState(false);
  const inbox = useQuery(trpc.chat.inbox.queryOptions({ status, mine }));
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.chat.inbox.pathKey() });
  const live = useLive(trpc.chat.onInbox.subscriptionOptions({}, { onData: refresh }), refresh);
  return (
    <>
      <p className="row">
        <label htmlFor="chat-status">Status</label>
        <select id="chat-status" value={status} onChange={(e) => setStatus(e.target.value as 'open' | 'closed')}>
          <option value="open">Open</option>
          <option value="closed">Closed</option>
        </select>
        <label>
          <input type="checkbox" checked={mine} onChange={(e) => setMine(e.target.checked)} /> Assigned to me
        </label>
        <LiveIndicator state={live.status} />
      </p>
      {inbox.isPending ? <Loading what="Loading the inbox" /> : null}
      <ErrorNotice error={inbox.error} />
      {inbox.data && inbox.data.items.length === 0 ? <Empty>No conversations here.</Empty> : null}
      {inbox.data && inbox.data.items.length > 0 ? (
        <table>
          <thead>
            <tr>
              <th scope="col">Conversation</th>
              <th scope="col">Customer</th>
              <th scope="col">Order</th>
              <th scope="col">Unread</th>
              <th scope="col">Waiting</th>
              <th scope="col">Assignee</th>
            </tr>
          </thead>
          <tbody>
            {inbox.data.items.map((c) => (
              <tr key={c.id}>
                <td>
                  <Link to={`/admin/support/${c.id}`}>{c.subject}</Link>
                  <div className="muted">{c.lastMessage?.preview ?? ''}</div>
                </td>
                <td>{c.customer.name}</td>
                <td>
                  {c.orderId ? <Link to={`/admin/orders/${c.orderId}`}>#{c.orderId.slice(-8)}</Link> : '—'}
                  {c.order ? (
                    <div className="muted">
                      {c.order.status.replaceAll('_', ' ')} · {money(c.order.totalCents, c.order.currency)}
                    </div>
                  ) : null}
                </td>
                <td>{c.unread > 0 ? <span className="badge unread">{c.unread}</span> : '0'}</td>
                <td>{c.awaitingStaffSince ? since(c.awaitingStaffSince) : '—'}</td>
                <td>{c.assignee?.name ?? 'Unassigned'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </>
  );
}

export default function Support() {
  return (
    <RequireAdmin>
      {() => (
        <>
          <h1>Support</h1>
          <AdminNav />
          <Inbox />
        </>
      )}
    </RequireAdmin>
  );
}
