/**
 * Support chat across two real API processes sharing one database: the customer on A, the staff on B.
 * 200 messages each way, interleaved, reach both sides exactly once and in one order; a subscriber
 * that drops resumes on the other process with exactly what it missed; typing indicators cross
 * processes and leave no row; another customer receives nothing of it, live or on resume, over
 * WebSocket and SSE.
 */
import { closeClient, createClient, type KeelsonClient } from '@keelson/client';
import { createUsers, eventually, freePort, rawCall, sql, startProcess, startTestApi } from '@keelson/testing';
import { describe, expect, it } from 'vitest';

interface Received {
  id?: string;
  data: {
    kind?: string;
    conversationId?: string;
    message?: { id: string; body: string | null; authorRole: string };
    role?: string;
  };
}

function collect<T = Received>(
  subscribe: (handlers: { onData(e: T): void; onError(err: unknown): void }) => { unsubscribe(): void },
) {
  const events: T[] = [];
  const errors: unknown[] = [];
  const sub = subscribe({ onData: (e) => events.push(e), onError: (err) => errors.push(err) });
  return { events, errors, stop: () => sub.unsubscribe() };
}

const messagesOf = (events: Received[]) => events.filter((e) => e.data.kind === 'message');
const bodies = (events: Received[]) => messagesOf(events).map((e) => e.data.message?.body);

const maxEventId = async (url: string) =>
  String(
    (await sql<{ position: string | null }>(url, 'select max(position)::text as position from app_event'))[0]
      ?.position ?? '0',
  );

describe('support chat across API processes', () => {
  it('200 messages each way arrive once and in order on both sides; resume, typing and isolation', {
    timeout: 180_000,
  }, async () => {
    await using api0 = await startTestApi();
    const url = api0.db.url;
    const [alice, bob] = await createUsers(url, 2, { prefix: 'chat-e2e' });
    const [staff] = await createUsers(url, 1, { role: 'admin', prefix: 'chat-e2e-staff' });
    const [portA, portB] = [await freePort(), await freePort()];
    const env = (port: number) => ({ DATABASE_URL: url, PORT: String(port), CHAT_SEND_PER_MINUTE: '10000' });
    await using procA = startProcess('apps/api/src/main.ts', env(portA));
    await using procB = startProcess('apps/api/src/main.ts', env(portB));
    await Promise.all([procA.waitFor(/api listening/), procB.waitFor(/api listening/)]);
    const clients: KeelsonClient[] = [];
    const client = (port: number, token: string, transport: 'ws' | 'sse' = 'ws') => {
      const c = createClient({ url: `http://127.0.0.1:${port}/trpc`, token: () => token, transport });
      clients.push(c);
      return c;
    };
    try {
      const aliceOnA = client(portA, alice!.token);
      const staffOnB = client(portB, staff!.token);
      const bobOnA = client(portA, bob!.token);
      const bobSse = client(portB, bob!.token, 'sse');

      const start = await maxEventId(url);
      const conv = await aliceOnA.chat.open.mutate({ body: 'first' });
      const conversationId = conv.id;
      const aliceSub = collect((h) => aliceOnA.chat.onMessage.subscribe({ conversationId, lastEventId: start }, h));
      const staffSub = collect((h) => staffOnB.chat.onMessage.subscribe({ conversationId, lastEventId: start }, h));
      const inbox = collect((h) => staffOnB.chat.onInbox.subscribe({ lastEventId: start }, h));
      const bobInbox = collect((h) => bobOnA.chat.onInbox.subscribe({ lastEventId: start }, h));
      const bobInboxSse = collect((h) => bobSse.chat.onInbox.subscribe({ lastEventId: start }, h));
      // The customer's second device, over SSE to the other replica.
      const aliceSse = collect((h) =>
        client(portB, alice!.token, 'sse').chat.onMessage.subscribe({ conversationId, lastEventId: start }, h),
      );

      const N = 200;
      for (let i = 0; i < N; i++) {
        await Promise.all([
          aliceOnA.chat.send.mutate({ conversationId, body: `c${i}` }),
          staffOnB.chat.send.mutate({ conversationId, body: `s${i}` }),
        ]);
      }
      const total = 2 * N + 1;
      await eventually(
        async () => messagesOf(aliceSub.events).length >= total && messagesOf(staffSub.events).length >= total,
        60_000,
      );
      // Exactly once, one order for both sides, which is the order the database committed them in.
      const aliceSeen = bodies(aliceSub.events);
      expect(aliceSeen).toHaveLength(total);
      expect(bodies(staffSub.events)).toEqual(aliceSeen);
      expect(new Set(aliceSeen).size).toBe(total);
      const stored = await sql<{ body: string }>(
        url,
        'select body from chat_message where conversation_id = $1 order by id',
        [conversationId],
      );
      expect(aliceSeen).toEqual(stored.map((r) => r.body));
      // Each author's messages in the order they were sent.
      expect(aliceSeen.filter((b) => b?.startsWith('c'))).toEqual(Array.from({ length: N }, (_, i) => `c${i}`));
      expect(aliceSeen.filter((b) => b?.startsWith('s'))).toEqual(Array.from({ length: N }, (_, i) => `s${i}`));
      const ids = staffSub.events.map((e) => BigInt(e.id!));
      expect(ids).toEqual([...ids].sort((x, y) => (x < y ? -1 : 1)));
      expect(new Set(ids).size).toBe(ids.length);
      await eventually(async () => messagesOf(inbox.events).length >= total, 20_000);
      await eventually(async () => messagesOf(aliceSse.events).length >= total, 20_000);
      expect(bodies(aliceSse.events)).toEqual(aliceSeen);

      // The staff's subscription drops; ten messages later it resumes on the other process (A).
      staffSub.stop();
      const lastSeen = staffSub.events.at(-1)!.id!;
      for (let i = 0; i < 10; i++) await aliceOnA.chat.send.mutate({ conversationId, body: `missed ${i}` });
      const staffOnA = client(portA, staff!.token);
      const resumed = collect((h) => staffOnA.chat.onMessage.subscribe({ conversationId, lastEventId: lastSeen }, h));
      // What the log holds after the cursor, once all of it is sequenced (numbering follows the commits).
      const missed = await eventually(async () => {
        const [pending] = await sql<{ n: number }>(
          url,
          'select count(*)::int as n from app_event where position is null',
        );
        if (pending!.n > 0) return null;
        return sql<{ position: string }>(
          url,
          `select position::text from app_event where topic = 'chat' and payload ->> 'conversationId' = $1
             and position > $2 order by position`,
          [conversationId, lastSeen],
        );
      }, 20_000);
      await eventually(async () => resumed.events.length >= missed.length, 20_000);
      await new Promise((r) => setTimeout(r, 300));
      expect(resumed.events.map((e) => e.id)).toEqual(missed.map((r) => r.position));
      expect(bodies(resumed.events)).toEqual(Array.from({ length: 10 }, (_, i) => `missed ${i}`));

      // Typing: from the customer on A to the staff on B, nothing stored.
      const rowsBefore = await sql<{ events: string; messages: string }>(
        url,
        `select (select count(*) from app_event)::text as events, (select count(*) from chat_message)::text as messages`,
      );
      const typing = collect<unknown>((h) => staffOnB.chat.onTyping.subscribe({ conversationId }, h));
      const ownTyping = collect<unknown>((h) => aliceOnA.chat.onTyping.subscribe({ conversationId }, h));
      await eventually(async () => {
        await aliceOnA.chat.typing.mutate({ conversationId }).catch(() => null);
        return typing.events.length > 0;
      }, 15_000);
      // Not tracked: the indicator itself, with no event id to resume from.
      expect(typing.events[0]).toMatchObject({ conversationId, role: 'customer', name: expect.any(String) });
      // One's own indicators are not sent back; a second within the second is refused.
      await expect(aliceOnA.chat.typing.mutate({ conversationId })).rejects.toMatchObject({
        data: { code: 'TOO_MANY_REQUESTS' },
      });
      expect(ownTyping.events).toEqual([]);
      const rowsAfter = await sql<{ events: string; messages: string }>(
        url,
        `select (select count(*) from app_event)::text as events, (select count(*) from chat_message)::text as messages`,
      );
      expect(rowsAfter).toEqual(rowsBefore);

      // Bob: none of Alice's events, live or on resume, over WebSocket and SSE; her conversation does not exist for him.
      const bobResumed = collect((h) => bobOnA.chat.onInbox.subscribe({ lastEventId: start }, h));
      await new Promise((r) => setTimeout(r, 500));
      expect([...bobInbox.events, ...bobInboxSse.events, ...bobResumed.events]).toEqual([]);
      const bobTyping = collect<unknown>((h) => bobOnA.chat.onTyping.subscribe({ conversationId }, h));
      const bobMessages = collect((h) => bobOnA.chat.onMessage.subscribe({ conversationId, lastEventId: start }, h));
      await eventually(async () => bobTyping.errors.length > 0 && bobMessages.errors.length > 0, 10_000);
      for (const err of [...bobTyping.errors, ...bobMessages.errors]) {
        expect(err).toMatchObject({ data: { code: 'NOT_FOUND', appCode: 'CONVERSATION_NOT_FOUND' } });
      }
      expect([...aliceSub.errors, ...staffSub.errors, ...inbox.errors, ...resumed.errors, ...typing.errors]).toEqual(
        [],
      );
      for (const s of [aliceSub, aliceSse, inbox, bobInbox, bobInboxSse, resumed, typing, ownTyping, bobResumed])
        s.stop();
    } finally {
      await Promise.all(clients.map((c) => closeClient(c)));
    }
  });

  it('answers a sender over the limit 429 with Retry-After, and stores nothing', { timeout: 60_000 }, async () => {
    await using api = await startTestApi({ config: { CHAT_SEND_PER_MINUTE: '2' } });
    const [carol] = await createUsers(api.db.url, 1, { prefix: 'chat-limit' });
    const headers = { authorization: `Bearer ${carol!.token}` };
    const opened = await rawCall(api.baseUrl, { path: 'chat.open', type: 'mutation', input: { body: 'one' }, headers });
    const conversationId = (opened.data as { id: string }).id;
    const send = (body: string) =>
      rawCall(api.baseUrl, { path: 'chat.send', type: 'mutation', input: { conversationId, body }, headers });
    expect((await send('two')).status).toBe(200);
    const refused = await send('three');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.error?.data).toMatchObject({ code: 'TOO_MANY_REQUESTS', appCode: 'RATE_LIMITED' });
    const stored = await sql(api.db.url, 'select 1 from chat_message where conversation_id = $1', [conversationId]);
    expect(stored).toHaveLength(2);
  });
});
