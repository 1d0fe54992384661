/** Staff: one conversation, with the customer and order context, assignment and status. */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useParams } from 'react-router';
import { ChatPanel } from '../chat/ChatPanel.tsx';
import { RequireAdmin } from '../session.tsx';
import { useTRPC } from '../trpc.ts';
import { ErrorNotice } from '../ui/status.tsx';
import { AdminNav } from './AdminNav.tsx';

function Controls({ id, meId }: { id: string; meId: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const conversation = useQuery(trpc.chat.get.queryOptions({ conversationId: id }));
  const update = (c: unknown) => {
    queryClient.setQueryData(trpc.chat.get.queryKey({ conversationId: id }), c as never);
    void queryClient.invalidateQueries({ queryKey: trpc.chat.inbox.pathKey() });
  };
  const assign = useMutation(trpc.chat.assign.mutationOptions({ onSuccess: update }));
  const close = useMutation(trpc.chat.close.mutationOptions({ onSuccess: update }));
  const reopen = useMutation(trpc.chat.reopen.mutationOptions({ onSuccess: update }));
  const c = conversation.data;
  if (!c) return null;
  const mine = c.assignee?.id === meId;
  return (
    <div className="stack">
      <p>
        {c.customer.name} ({c.customerEmail}){' '}
        {c.orderId ? (
          <>
            · about <Link to={`/admin/orders/${c.orderId}`}>order #{c.orderId.slice(-8)}</Link>
          </>
        ) : null}
      </p>
      <p className="row">
        <span>Assignee: {c.assignee?.name ?? 'nobody'}</span>
        <button type="button" onClick={() => assign.mutate({ conversationId: id, toMe: !mine })}>
          {mine ? 'Unassign' : 'Take it'}
        </button>
        {c.status === 'open' ? (
          <button type="button" onClick={() => close.mutate({ conversationId: id })}>
            Close
          </button>
        ) : (
          <button type="button" onClick={() => reopen.mutate({ conversationId: id })}>
            Reopen
          </button>
        )}
      </p>
      <ErrorNotice error={assign.error ?? close.error ?? reopen.error} />
    </div>
  );
}

export default function SupportConversation() {
  const { id = '' } = useParams();
  return (
    <RequireAdmin>
      {(me) => (
        <>
          <h1>Support</h1>
          <AdminNav />
          <p>
            <Link to="/admin/support">Inbox</Link>
          </p>
          <Controls key={`c-${id}`} id={id} meId={me.id} />
          <ChatPanel key={id} conversationId={id} side="staff" />
        </>
      )}
    </RequireAdmin>
  );
}
