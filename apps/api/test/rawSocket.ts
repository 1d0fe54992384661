/**
 * A WebSocket to the API with nothing in between: raw frames in, raw messages and the close code out.
 * For what the typed client never sends (malformed frames, oversize messages) and for close codes.
 */
import { WebSocket } from 'ws';

/** A server message answering a call (superjson-encoded: the value is under `json`). */
export interface TrpcAnswer {
  id: number | string | null;
  result?: { type: string; data?: { json?: unknown } };
  error?: { json?: { message: string; code: number; data: { code: string; appCode?: string | null } } };
}

export interface RawSocket {
  ws: WebSocket;
  /** Every text message received, parsed when it is JSON. */
  messages: unknown[];
  /** Resolves once open; rejects if the upgrade fails. */
  opened: Promise<void>;
  /** Resolves with the close code and reason. */
  closed: Promise<{ code: number; reason: string }>;
  send(data: string | Buffer, opts?: { binary?: boolean }): void;
  /** Once open, sends a tRPC call and waits for the message answering its id. */
  call(method: 'query' | 'mutation' | 'subscription', path: string, input?: unknown): Promise<TrpcAnswer>;
  close(): Promise<{ code: number; reason: string }>;
}

let nextId = 1_000;

export function rawSocket(baseUrl: string, opts: { headers?: Record<string, string>; query?: string } = {}): RawSocket {
  const url = `${baseUrl.replace(/^http/, 'ws')}/trpc${opts.query ? `?${opts.query}` : ''}`;
  const ws = new WebSocket(url, { headers: opts.headers ?? {} });
  const messages: unknown[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (data, isBinary) => {
    const text = data.toString();
    let parsed: unknown = text;
    if (!isBinary) {
      try {
        parsed = JSON.parse(text);
      } catch {}
    }
    messages.push(parsed);
    for (const w of waiters) w();
  });
  // A refused upgrade or a reset must fail the test that expects it, not crash the runner.
  ws.on('error', () => {});
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    ws.once('close', () => reject(new Error('closed before open')));
  });
  opened.catch(() => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  const send = (data: string | Buffer, o: { binary?: boolean } = {}) => ws.send(data, { binary: o.binary ?? false });
  return {
    ws,
    messages,
    opened,
    closed,
    send,
    async call(method, path, input) {
      await opened;
      const id = nextId++;
      send(JSON.stringify({ id, method, params: { path, input: { json: input } } }));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no answer to ${path} (id ${id}); got ${JSON.stringify(messages)}`));
        }, 15_000);
        const check = () => {
          const answer = messages.find(
            (m): m is TrpcAnswer => typeof m === 'object' && m !== null && (m as { id?: unknown }).id === id,
          );
          if (answer) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve(answer);
          }
        };
        waiters.add(check);
        check();
      });
    },
    async close() {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close();
      return closed;
    },
  };
}
