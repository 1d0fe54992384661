/**
 * One support conversation, for the customer or the staff: its history (older pages on demand), new
 * messages, read receipts and the other side's typing, live (`chat.onMessage` resumes from its last
 * event id when the socket comes back; `chat.onTyping` is never stored). Messages are rendered as text:
 * markup in one shows as its characters.
 */
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { useLive } from '../live.ts';
import { useTRPC } from '../trpc.ts';
import { ErrorNotice, LiveIndicator, Loading } from '../ui/status.tsx';
import './chat.css';
import { MessageField } from './MessageField.tsx';

const TYPING_SHOWN_MS = 4_000;
const TYPING_EVERY_MS = 2_500;
const time = (d: Date) => d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });

export function ChatPanel({ conversationId, side }: { conversationId: string; side: 'customer' | 'staff' }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const conversation = useQuery(trpc.chat.get.queryOptions({ conversationId }));
  const history = useInfiniteQuery(
    trpc.chat.messages.infiniteQueryOptions(
      { conversationId, limit: 50 },
      { getNextPageParam: (page) => page.nextCursor ?? undefined },
    ),
  );
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: trpc.chat.messages.pathKey() });
    void queryClient.invalidateQueries({ queryKey: trpc.chat.get.queryKey({ conversationId }) });
    void queryClient.invalidateQueries({ queryKey: trpc.chat.list.pathKey() });
    void queryClient.invalidateQueries({ queryKey: trpc.chat.inbox.pathKey() });
  };
  const live = useLive(trpc.chat.onMessage.subscriptionOptions({ conversationId }, { onData: refresh }), refresh);
  const [typingName, setTypingName] = useState<string | null>(null);
  const typingTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useLive(
    trpc.chat.onTyping.subscriptionOptions(
      { conversationId },
      {
        onData: (event) => {
          setTypingName(event.name);
          if (typingTimer.current) clearTimeout(typingTimer.current);
          typingTimer.current = setTimeout(() => setTypingName(null), TYPING_SHOWN_MS);
        },
      },
    ),
  );
  useEffect(
    () => () => {
      if (typingTimer.current) clearTimeout(typingTimer.current);
    },
    [],
  );

  // Pages come newest first; each page is oldest first.
  const messages = [...(history.data?.pages ?? [])].reverse().flatMap((p) => p.items);
  const newest = messages.at(-1);
  // A new message from the other side, on screen: tell the server it was read.
  const markRead = useMutation(trpc.chat.markRead.mutationOptions());
  const { mutate: mark } = markRead;
  const lastTheirs = [...messages].reverse().find((m) => m.authorRole !== side);
  useEffect(() => {
    if (lastTheirs && (conversation.data?.unread ?? 0) > 0) mark({ conversationId, upTo: lastTheirs.id });
  }, [lastTheirs, conversation.data?.unread, conversationId, mark]);

  const hide = useMutation(trpc.chat.hideMessage.mutationOptions({ onSuccess: refresh }));
  const otherRead = conversation.data?.otherReadUpTo ?? null;
  const seenId = [...messages]
    .reverse()
    .find((m) => m.authorRole === side && otherRead !== null && m.id <= otherRead)?.id;

  const listRef = useRef<HTMLOListElement>(null);
  useEffect(() => {
    if (newest && listRef.current) listRef.current.scrollTop = listRef.current.scrollHeight;
  }, [newest]);

  if (conversation.isPending || history.isPending) return <Loading what="Loading the conversation" />;
  if (conversation.error) return <ErrorNotice error={conversation.error} />;
  if (history.error) return <ErrorNotice error={history.error} />;
  const c = conversation.data;
  return (
    <section className="chat" aria-label={`Conversation: ${c.subject}`}>
      <header className="row chat-head">
        <strong>{c.subject}</strong>
        <span className={`badge chat-status-${c.status}`}>{c.status}</span>
        <LiveIndicator state={live.status} />
      </header>
      {history.hasNextPage ? (
        <button
          type="button"
          className="link"
          onClick={() => history.fetchNextPage()}
          disabled={history.isFetchingNextPage}
        >
          Earlier messages
        </button>
      ) : null}
      <ol className="chat-messages" ref={listRef} aria-live="polite" aria-relevant="additions">
        {messages.map((m) => (
          <li
            key={m.id}
            className={`chat-message from-${m.authorRole}${m.authorRole === side ? ' mine' : ''}`}
            data-message-id={m.id}
          >
            <div className="chat-meta">
              <span>{m.authorRole === side ? 'You' : m.authorName}</span>{' '}
              <time dateTime={m.createdAt.toISOString()}>{time(m.createdAt)}</time>
              {m.id === seenId ? <span className="muted"> · Seen</span> : null}
            </div>
            {m.body === null ? (
              <p className="chat-body muted">This message was hidden by our staff.</p>
            ) : (
              <p className="chat-body">{m.body}</p>
            )}
            {side === 'staff' && m.hidden ? (
              <p className="muted chat-hidden-note">
                Hidden from the customer{m.hiddenBy ? ` by ${m.hiddenBy}` : ''}
                {m.hiddenAt ? ` at ${time(m.hiddenAt)}` : ''}
              </p>
            ) : null}
            {side === 'staff' && !m.hidden ? (
              <button type="button" className="link" onClick={() => hide.mutate({ messageId: m.id })}>
                Hide from the customer
              </button>
            ) : null}
          </li>
        ))}
      </ol>
      <p className="muted chat-typing" aria-live="polite">
        {typingName ? `${typingName} is writing…` : ' '}
      </p>
      <Composer conversationId={conversationId} onSent={refresh} />
    </section>
  );
}

function Composer({ conversationId, onSent }: { conversationId: string; onSent: () => void }) {
  const trpc = useTRPC();
  const [body, setBody] = useState('');
  const lastTyping = useRef(0);
  const typing = useMutation(trpc.chat.typing.mutationOptions());
  const send = useMutation(
    trpc.chat.send.mutationOptions({
      onSuccess: () => {
        setBody('');
        onSent();
      },
    }),
  );
  return (
    <form
      className="chat-composer"
      onSubmit={(e) => {
        e.preventDefault();
        // One key per attempt: a retried request (a lost answer) never posts the message twice.
        send.mutate({ conversationId, body, clientKey: crypto.randomUUID() });
      }}
    >
      <MessageField
        label="Message"
        value={body}
        error={send.error}
        onChange={(value) => {
          setBody(value);
          const now = Date.now();
          if (now - lastTyping.current > TYPING_EVERY_MS) {
            lastTyping.current = now;
            typing.mutate({ conversationId });
          }
        }}
      />
      <button type="submit" disabled={send.isPending}>
        Send
      </button>
    </form>
  );
}
