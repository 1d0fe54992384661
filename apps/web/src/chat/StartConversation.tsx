/** The first message of a new conversation (optionally about an order); shows the conversation once sent. */
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { useNavigate } from 'react-router';
import { describeError, errorInfo } from '../errors.ts';
import { useTRPC } from '../trpc.ts';

export function StartConversation({ orderId, label }: { orderId?: string; label: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const id = useId();
  const [body, setBody] = useState('');
  const open = useMutation(
    trpc.chat.open.mutationOptions({
      onSuccess: async (c) => {
        await queryClient.invalidateQueries({ queryKey: trpc.chat.list.pathKey() });
        // About an order: the order page shows the conversation in place of this form.
        if (!orderId) navigate(`/account/support/${c.id}`);
      },
    }),
  );
  const info = open.error ? errorInfo(open.error) : null;
  const issue = info?.fields.body;
  return (
    <form
      className="chat-composer"
      onSubmit={(e) => {
        e.preventDefault();
        open.mutate({ body, ...(orderId ? { orderId } : {}) });
      }}
    >
      <label htmlFor={id}>{label}</label>
      <textarea
        id={id}
        rows={3}
        value={body}
        maxLength={4000}
        onChange={(e) => setBody(e.target.value)}
        aria-invalid={issue ? true : undefined}
        aria-describedby={issue ? `${id}-issue` : undefined}
      />
      {issue ? (
        <small id={`${id}-issue`} className="issue">
          {issue}
        </small>
      ) : null}
      {info && !issue ? (
        <div className="error" role="alert">
          {describeError(open.error)}
        </div>
      ) : null}
      <button type="submit" disabled={open.isPending}>
        Send to support
      </button>
    </form>
  );
}
