/**
 * The unread-reply email of the support chat, debounced: every staff reply enqueues
 * `chat__email_unread` under the conversation's job key (keeping the first run time), and the job sends
 * one email and files one inbox notification per burst of unread replies, however it is retried or
 * duplicated; replies read before the delay send nothing. Against a real SMTP server on loopback.
 */
import { defaultChatSettings, markRead, openConversation, sendMessage } from '@keelson/chat';
import { createMailer, type Mailer } from '@keelson/email';
import { createUsers, type SmtpCapture, sql, startSmtpCapture, type TestUser, useTestOrm } from '@keelson/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { taskRunner } from './fixtures/runTask.ts';

const DELAY_MS = 150;

describe('chat__email_unread', () => {
  const t = useTestOrm();
  let smtp: SmtpCapture;
  let mailer: Mailer;
  let staff: TestUser;
  const fork = () => t.orm.em.fork();
  const settings = { ...defaultChatSettings, emailAfterMs: DELAY_MS, sendPerMinute: 1000 };

  beforeAll(async () => {
    smtp = await startSmtpCapture();
    mailer = createMailer({ smtpUrl: smtp.url, from: 'Keelson <no-reply@keelson.test>', dir: '/nonexistent' });
    [staff] = (await createUsers(t.db.url, 1, { role: 'admin', prefix: 'chat-mail-staff' })) as [TestUser];
  });
  afterAll(async () => {
    mailer?.close();
    await smtp?.close();
  });

  const runTask = taskRunner(() => ({ orm: t.orm, mailer, chatEmailAfterMs: DELAY_MS }));
  const run = (conversationId: string, jobId: string, attempts = 1) =>
    runTask('chat__email_unread', { conversationId }, { id: jobId, attempts });
  const mailTo = (to: string) => smtp.messages.filter((m) => m.to.includes(to));
  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

  async function conversationWithReplies(customer: TestUser, replies: number) {
    const conv = await openConversation(fork(), {
      customerId: customer.id,
      input: { body: 'Is my order on its way?' },
      settings,
    });
    const sent = [];
    for (let i = 0; i < replies; i++) {
      sent.push(
        await sendMessage(fork(), {
          viewer: { userId: staff.id, staff: true },
          input: { conversationId: conv.id, body: `Reply ${i + 1} of ${replies}` },
          settings,
        }),
      );
    }
    return { conv, sent };
  }

  const jobsOf = (conversationId: string) =>
    sql<{ id: string; run_at: Date }>(
      t.db.url,
      `select id::text, run_at from graphile_worker.jobs where task_identifier = 'chat__email_unread' and key = $1`,
      [`chat__email_unread:${conversationId}`],
    );

  it('a burst of 5 unread replies past the delay makes one job, one email and one notification, whatever the retries', async () => {
    const [customer] = (await createUsers(t.db.url, 1, { prefix: 'chat-burst' })) as [TestUser];
    const { conv, sent } = await conversationWithReplies(customer, 5);
    // One job for the burst, due one delay after the first reply.
    const jobs = await jobsOf(conv.id);
    expect(jobs).toHaveLength(1);
    expect(new Date(jobs[0]!.run_at).getTime()).toBeLessThan(sent[1]!.createdAt.getTime() + DELAY_MS);
    await wait(DELAY_MS + 50);
    await run(conv.id, jobs[0]!.id);
    await run(conv.id, jobs[0]!.id, 2); // the retry of the same job
    await run(conv.id, 'duplicate-job'); // another job for the same conversation
    await smtp.waitFor(customer.email);
    await wait(300);
    const mails = mailTo(customer.email);
    expect(mails).toHaveLength(1);
    expect(mails[0]?.text).toContain('Subject: Support replied');
    expect(mails[0]?.text).toContain('5 replies');
    expect(mails[0]?.text).toContain('Reply 5 of 5');
    expect(mails[0]?.text).toContain(`http://shop.test/account/support/${conv.id}`);
    const notes = await sql<{ kind: string }>(t.db.url, `select kind from notification where user_id = $1`, [
      customer.id,
    ]);
    expect(notes).toEqual([{ kind: 'chat_reply' }]);
  });

  it('replies read before the delay send nothing', async () => {
    const [customer] = (await createUsers(t.db.url, 1, { prefix: 'chat-read' })) as [TestUser];
    const { conv, sent } = await conversationWithReplies(customer, 3);
    await markRead(fork(), { userId: customer.id, staff: false }, { conversationId: conv.id, upTo: sent.at(-1)!.id });
    await wait(DELAY_MS + 50);
    await run(conv.id, (await jobsOf(conv.id))[0]!.id);
    await wait(300);
    expect(mailTo(customer.email)).toEqual([]);
    expect(await sql(t.db.url, `select 1 from notification where user_id = $1`, [customer.id])).toEqual([]);
  });

  it('a job that runs before the delay is over looks again later, and a new burst after a read gets its own email', async () => {
    const [customer] = (await createUsers(t.db.url, 1, { prefix: 'chat-later' })) as [TestUser];
    const { conv, sent } = await conversationWithReplies(customer, 1);
    await markRead(fork(), { userId: customer.id, staff: false }, { conversationId: conv.id, upTo: sent[0]!.id });
    const [job] = await jobsOf(conv.id);
    // A second burst, unread; the queued job (still due at the first reply's time) runs too early for it.
    await sendMessage(fork(), {
      viewer: { userId: staff.id, staff: true },
      input: { conversationId: conv.id, body: 'Another thing' },
      settings,
    });
    await run(conv.id, job!.id);
    expect(mailTo(customer.email)).toEqual([]);
    const again = await jobsOf(conv.id);
    expect(again).toHaveLength(1);
    await wait(DELAY_MS + 50);
    await run(conv.id, again[0]!.id);
    await smtp.waitFor(customer.email);
    expect(mailTo(customer.email)).toHaveLength(1);
    expect(mailTo(customer.email)[0]?.text).toContain('Another thing');
  });
});
