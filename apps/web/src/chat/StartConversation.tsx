/** The first message of a new conversation (optionally about an order); shows the conversation once sent. */
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useNavigate } from 'react-router';
import { useTRPC } from '../trpc.ts';
import { MessageField } from './MessageField.tsx';

export function StartConversation({ orderId, label }: { orderId?: string; label: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
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
  return (
    <form
      className="chat-composer"
      onSubmit={(e) => {
        e.preventDefault();
        open.mutate({ body, ...(orderId ? { orderId } : {}) });
      }}
    >
      <MessageField label={label} value={body} onChange={setBody} error={open.error} />
      <button type="submit" disabled={open.isPending}>
        Send to support
      </button>
    </form>
  );
}
