/**
 * The support chat through the router (createCaller), on real PostgreSQL: opening a conversation about
 * one's own order, history pages, unread counts and read receipts, staff assignment, closing and
 * reopening, hiding (scrubbed from the realtime log), the text rules, the per-user send limit, retried
 * sends, and that nobody but the customer and the staff ever sees a conversation.
 */
import { createUsers, sql, type TestUser, testContext, useTestOrm } from '@keelson/testing';
import { appRouter, createCallerFactory } from '@keelson/trpc';
import { TRPCError } from '@trpc/server';
import { beforeAll, describe, expect, it } from 'vitest';

const createCaller = createCallerFactory(appRouter);

const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (err: unknown) =>
      err instanceof TRPCError
        ? `${err.code}/${(err.cause as { code?: string } | undefined)?.code ?? ''}`
        : `unexpected ${String(err)}`,
  );

describe('support chat (createCaller)', () => {
  const t = useTestOrm();
  let alice: TestUser;
  let bob: TestUser;
  let staff: TestUser;
  const as = (u: TestUser, config?: Record<string, string>) =>
    createCaller(testContext(t.orm, { token: u.token, ...(config ? { config } : {}) }));

  beforeAll(async () => {
    [alice, bob] = (await createUsers(t.db.url, 2, { prefix: 'chat' })) as [TestUser, TestUser];
    [staff] = (await createUsers(t.db.url, 1, { role: 'admin', prefix: 'chat-staff' })) as [TestUser];
  });

  async function aliceOrder(): Promise<string> {
    const [o] = await sql<{ id: string }>(
      t.db.url,
      `insert into store_order (id, user_id, status, currency, subtotal_cents, tax_rate_bps, tax_cents, total_cents, created_at, updated_at)
       values (gen_random_uuid(), $1, 'paid', 'USD', 100, 0, 0, 100, now(), now()) returning id`,
      [alice.id],
    );
    return o!.id;
  }

  it('a customer asks about their order; staff see it in the inbox, reply, and the counts and receipts follow', async () => {
    const orderId = await aliceOrder();
    const conv = await as(alice).chat.open({ orderId, body: 'Where is my parcel?' });
    expect(conv).toMatchObject({ status: 'open', orderId, unread: 0, assignee: null, customerEmail: null });
    expect(conv.subject).toMatch(/^Order /);
    expect(conv.awaitingStaffSince).toBeInstanceOf(Date);

    const inbox = await as(staff).chat.inbox({});
    const row = inbox.items.find((c) => c.id === conv.id);
    expect(row).toMatchObject({
      unread: 1,
      orderId,
      order: { status: 'paid', totalCents: 100, currency: 'USD' },
      customerEmail: alice.email,
      lastMessage: { authorRole: 'customer' },
    });

    const reply = await as(staff).chat.send({ conversationId: conv.id, body: 'It left this morning.' });
    expect(reply.authorRole).toBe('staff');
    // The first staff reply takes the conversation and stops the unanswered clock.
    const afterReply = await as(staff).chat.get({ conversationId: conv.id });
    expect(afterReply).toMatchObject({ assignee: { id: staff.id }, awaitingStaffSince: null, unread: 0 });
    const mine = await as(alice).chat.get({ conversationId: conv.id });
    expect(mine.unread).toBe(1);
    expect(mine.otherReadUpTo).toBe(reply.id);

    expect(await as(alice).chat.markRead({ conversationId: conv.id, upTo: reply.id })).toEqual({ unread: 0 });
    expect((await as(staff).chat.get({ conversationId: conv.id })).otherReadUpTo).toBe(reply.id);
    // The marker never moves back.
    const first = (await as(alice).chat.messages({ conversationId: conv.id })).items[0]!;
    await as(alice).chat.markRead({ conversationId: conv.id, upTo: first.id });
    expect((await as(staff).chat.get({ conversationId: conv.id })).otherReadUpTo).toBe(reply.id);
    // The job that emails an unread reply was enqueued with the reply, under the conversation's key.
    const [job] = await sql<{ n: string }>(
      t.db.url,
      `select count(*)::text as n from graphile_worker.jobs where task_identifier = 'chat__email_unread' and key = $1`,
      [`chat__email_unread:${conv.id}`],
    );
    expect(job!.n).toBe('1');
  });

  it('pages history backwards, oldest first within a page', async () => {
    const conv = await as(bob).chat.open({ body: 'message 0' });
    for (let i = 1; i < 12; i++)
      await as(i % 2 ? staff : bob).chat.send({ conversationId: conv.id, body: `message ${i}` });
    const seen: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await as(bob).chat.messages({ conversationId: conv.id, limit: 5, ...(cursor ? { cursor } : {}) });
      seen.unshift(...page.items.map((m) => m.body ?? ''));
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    expect(seen).toEqual(Array.from({ length: 12 }, (_, i) => `message ${i}`));
    // Customers see staff by first name; the staff's own view keeps the name.
    const page = await as(bob).chat.messages({ conversationId: conv.id, limit: 2 });
    expect(page.items.map((m) => m.authorRole)).toEqual(['customer', 'staff']);
  });

  it('another customer gets CONVERSATION_NOT_FOUND for everything, as for an unknown id', async () => {
    const conv = await as(alice).chat.open({ body: 'private question' });
    const [message] = (await as(alice).chat.messages({ conversationId: conv.id })).items;
    const calls = [
      as(bob).chat.get({ conversationId: conv.id }),
      as(bob).chat.messages({ conversationId: conv.id }),
      as(bob).chat.send({ conversationId: conv.id, body: 'hi' }),
      as(bob).chat.markRead({ conversationId: conv.id, upTo: message!.id }),
      as(bob).chat.close({ conversationId: conv.id }),
      as(bob).chat.typing({ conversationId: conv.id }),
      as(bob).chat.onMessage({ conversationId: conv.id }),
      as(bob).chat.onTyping({ conversationId: conv.id }),
      as(bob).chat.get({ conversationId: crypto.randomUUID() }),
    ];
    expect(await Promise.all(calls.map(outcome))).toEqual(calls.map(() => 'NOT_FOUND/CONVERSATION_NOT_FOUND'));
    expect((await as(bob).chat.list({})).items.map((c) => c.id)).not.toContain(conv.id);
    // Asking about someone else's order is refused the same way orders are.
    const orderId = await aliceOrder();
    expect(await outcome(as(bob).chat.open({ orderId, body: 'about your order' }))).toBe('NOT_FOUND/ORDER_NOT_FOUND');
  });

  it('refuses blank, over-long, NUL and control-character messages with field issues, and stores nothing', async () => {
    const conv = await as(alice).chat.open({ body: 'start' });
    const before = (await as(alice).chat.messages({ conversationId: conv.id })).items.length;
    for (const body of ['   ', 'x'.repeat(2001), 'nul \u0000 byte', 'bell \u0007', 'escape \u001b[31m']) {
      const err = await as(alice)
        .chat.send({ conversationId: conv.id, body })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TRPCError);
      expect((err as TRPCError).code).toBe('BAD_REQUEST');
      const issues = ((err as TRPCError).cause as { issues?: { path: unknown[] }[] }).issues ?? [];
      expect(issues.map((i) => i.path)).toContainEqual(['body']);
    }
    // Line breaks, tabs and markup are text like any other: stored exactly as written.
    const payload = '<img src=x onerror="alert(1)">\n\t<script>alert(2)</script>';
    const sent = await as(alice).chat.send({ conversationId: conv.id, body: payload });
    expect(sent.body).toBe(payload);
    expect((await as(alice).chat.messages({ conversationId: conv.id })).items.length).toBe(before + 1);
  });

  it('a retried send with the same clientKey makes one message; the per-user limit answers TOO_MANY_REQUESTS', async () => {
    const conv = await as(bob).chat.open({ body: 'limits' });
    const a = await as(bob).chat.send({ conversationId: conv.id, body: 'once', clientKey: 'retry-key-0001' });
    const b = await as(bob).chat.send({ conversationId: conv.id, body: 'once', clientKey: 'retry-key-0001' });
    expect(b.id).toBe(a.id);
    const limited = as(bob, { CHAT_SEND_PER_MINUTE: '3' });
    await sql(t.db.url, `delete from auth_throttle where bucket = 'chat:send:user'`);
    const results = [];
    for (let i = 0; i < 5; i++)
      results.push(await outcome(limited.chat.send({ conversationId: conv.id, body: `n${i}` })));
    expect(results).toEqual(['ok', 'ok', 'ok', 'TOO_MANY_REQUESTS/RATE_LIMITED', 'TOO_MANY_REQUESTS/RATE_LIMITED']);
    const err = await limited.chat.send({ conversationId: conv.id, body: 'more' }).catch((e: TRPCError) => e);
    expect((err as TRPCError).cause).toMatchObject({ details: { retryAfterSeconds: expect.any(Number) } });
    await sql(t.db.url, `delete from auth_throttle where bucket = 'chat:send:user'`);
  });

  it('takes ids in any case; a first message that is refused opens no conversation', async () => {
    const conv = await as(bob).chat.open({ body: 'case' });
    const reply = await as(staff).chat.send({ conversationId: conv.id.toUpperCase(), body: 'upper-case id' });
    expect(
      (await as(bob).chat.markRead({ conversationId: conv.id.toUpperCase(), upTo: reply.id.toUpperCase() })).unread,
    ).toBe(0);
    expect((await as(staff).chat.get({ conversationId: conv.id })).otherReadUpTo).toBe(reply.id);
    const before = (await as(bob).chat.list({ limit: 100 })).items.length;
    await sql(t.db.url, `delete from auth_throttle where bucket = 'chat:send:user'`);
    const limited = as(bob, { CHAT_SEND_PER_MINUTE: '1' });
    expect(await outcome(limited.chat.open({ body: 'first of the minute' }))).toBe('ok');
    expect(await outcome(limited.chat.open({ body: 'one too many' }))).toBe('TOO_MANY_REQUESTS/RATE_LIMITED');
    expect(await outcome(limited.chat.open({ body: '\u0000' }))).toBe('BAD_REQUEST/');
    expect((await as(bob).chat.list({ limit: 100 })).items.length).toBe(before + 1);
    await sql(t.db.url, `delete from auth_throttle where bucket = 'chat:send:user'`);
  });

  it('staff assign, close and reopen; a customer message reopens; customers cannot use the staff procedures', async () => {
    const conv = await as(alice).chat.open({ body: 'status' });
    expect((await as(staff).chat.assign({ conversationId: conv.id, toMe: true })).assignee?.id).toBe(staff.id);
    expect((await as(staff).chat.close({ conversationId: conv.id })).status).toBe('closed');
    expect((await as(staff).chat.inbox({ status: 'closed' })).items.map((c) => c.id)).toContain(conv.id);
    await as(alice).chat.send({ conversationId: conv.id, body: 'one more thing' });
    const reopened = await as(alice).chat.get({ conversationId: conv.id });
    expect(reopened.status).toBe('open');
    expect(reopened.awaitingStaffSince).toBeInstanceOf(Date);
    expect(await outcome(as(alice).chat.inbox({}))).toBe('FORBIDDEN/FORBIDDEN');
    expect(await outcome(as(alice).chat.assign({ conversationId: conv.id, toMe: true }))).toBe('FORBIDDEN/FORBIDDEN');
  });

  it('staff hide a message: customers see it hidden, staff see who and when, and the log no longer holds its text', async () => {
    const conv = await as(alice).chat.open({ body: 'my card is 4242 4242 4242 4242' });
    const [message] = (await as(alice).chat.messages({ conversationId: conv.id })).items;
    const hidden = await as(staff).chat.hideMessage({ messageId: message!.id });
    expect(hidden).toMatchObject({
      hidden: true,
      body: 'my card is 4242 4242 4242 4242',
      hiddenBy: expect.any(String),
    });
    expect(hidden.hiddenAt).toBeInstanceOf(Date);
    const seen = (await as(alice).chat.messages({ conversationId: conv.id })).items[0]!;
    expect(seen).toMatchObject({ hidden: true, body: null, hiddenBy: null, hiddenAt: null });
    const [log] = await sql<{ n: string }>(
      t.db.url,
      `select count(*)::text as n from app_event where topic = 'chat' and payload::text like '%4242 4242%'`,
    );
    expect(log!.n).toBe('0');
    expect((await as(alice).chat.list({})).items.find((c) => c.id === conv.id)?.lastMessage?.preview).toBeNull();
    expect(await outcome(as(staff).chat.hideMessage({ messageId: crypto.randomUUID() }))).toBe(
      'NOT_FOUND/CHAT_MESSAGE_NOT_FOUND',
    );
  });
});
