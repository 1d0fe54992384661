/**
 * Exactly one email per business event, however the jobs behind it are retried or duplicated: the
 * email tasks' handlers run here as graphile-worker would run a retry (same job, second attempt) and a
 * duplicate (another job for the same event), against a real SMTP server on loopback.
 */
import { createMailer, DeliveryInProgressError, type Mailer, messageIdFor, sendOnce } from '@keelson/email';
import { createProduct, createUsers, type SmtpCapture, sql, startSmtpCapture, useTestOrm } from '@keelson/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TaskName, taskRunner } from './fixtures/runTask.ts';

describe('email jobs', () => {
  const t = useTestOrm();
  let smtp: SmtpCapture;
  let mailer: Mailer;
  const fork = () => t.orm.em.fork();

  beforeAll(async () => {
    smtp = await startSmtpCapture();
    mailer = createMailer({ smtpUrl: smtp.url, from: 'Keelson <no-reply@keelson.test>', dir: '/nonexistent' });
  });
  afterAll(async () => {
    mailer?.close();
    await smtp?.close();
  });

  /** Runs a task's handler as graphile-worker runs attempt 1 of job `jobId`. */
  const runTask = taskRunner(() => ({ orm: t.orm, mailer }));
  const run = (task: TaskName, payload: unknown, jobId: string) => runTask(task, payload, { id: jobId });
  const mailTo = (to: string) => smtp.messages.filter((m) => m.to.includes(to));
  const settle = () => new Promise((r) => setTimeout(r, 300));

  it('a retried verification job sends one email and mints one token', async () => {
    const [user] = await createUsers(t.db.url, 1);
    const payload = { userId: user!.id, email: user!.email };
    await run('email__verify_address', payload, '101');
    await run('email__verify_address', payload, '101'); // the retry of the same job
    await smtp.waitFor(user!.email);
    await settle();
    expect(mailTo(user!.email)).toHaveLength(1);
    const tokens = await sql(t.db.url, `select 1 from auth_token where user_id = $1 and kind = 'verify_email'`, [
      user!.id,
    ]);
    expect(tokens).toHaveLength(1);
    expect(mailTo(user!.email)[0]?.raw).toContain(messageIdFor('job:101').slice(1, -1));
  });

  it('tells the owner of a taken address once per sign-up attempt, at most three times an hour', async () => {
    const [user, disabled] = await createUsers(t.db.url, 2);
    await run('email__account_exists', { userId: user!.id }, '401');
    await run('email__account_exists', { userId: user!.id }, '401'); // the retry of the same job
    await smtp.waitFor(user!.email);
    await settle();
    const notices = mailTo(user!.email);
    expect(notices).toHaveLength(1);
    expect(notices[0]?.text).toContain('which already has one');
    expect(notices[0]?.text).toContain('http://shop.test/sign-in');
    expect(notices[0]?.raw).toContain(messageIdFor('job:401').slice(1, -1));
    // A flood of sign-ups with the address: two more get through this hour, then silence.
    for (const id of ['402', '403', '404', '405']) await run('email__account_exists', { userId: user!.id }, id);
    await settle();
    expect(mailTo(user!.email)).toHaveLength(3);
    // A disabled account hears nothing.
    await sql(t.db.url, 'update app_user set disabled_at = now() where id = $1', [disabled!.id]);
    await run('email__account_exists', { userId: disabled!.id }, '406');
    await settle();
    expect(mailTo(disabled!.email)).toEqual([]);
  });

  it('two jobs for the same order event send one email; another event sends its own', async () => {
    const [user] = await createUsers(t.db.url, 1);
    const product = await createProduct(t.db.url, { priceCents: 500, stock: 3 });
    const orderId = crypto.randomUUID();
    await sql(
      t.db.url,
      `insert into store_order (id, user_id, status, currency, subtotal_cents, tax_rate_bps, tax_cents, total_cents, created_at, updated_at)
       values ($1, $2, 'paid', 'USD', 500, 0, 0, 500, now(), now())`,
      [orderId, user!.id],
    );
    await sql(
      t.db.url,
      `insert into order_line (id, order_id, product_id, product_name, product_slug, unit_price_cents, quantity, line_total_cents)
       values (gen_random_uuid(), $1, $2, 'Mug', 'mug', 500, 1, 500)`,
      [orderId, product.id],
    );
    await Promise.allSettled([
      run('email__order_status', { orderId, status: 'paid' }, '201'),
      run('email__order_status', { orderId, status: 'paid' }, '202'),
    ]);
    // Whichever lost the race retries later, and then finds it sent.
    await run('email__order_status', { orderId, status: 'paid' }, '202');
    await run('email__order_status', { orderId, status: 'shipped' }, '203');
    await smtp.waitFor(user!.email, (m) => m.text.includes('on its way'));
    await settle();
    const subjects = mailTo(user!.email).map((m) => /Subject: (.+)/.exec(m.text)?.[1]);
    expect(subjects).toHaveLength(2);
    expect(subjects.filter((s) => s?.includes('confirmed'))).toHaveLength(1);
  });

  it('a reset job whose throttle cannot be read fails (and is retried) instead of dropping the email', async () => {
    const [user] = await createUsers(t.db.url, 1);
    // Any failure but the limit itself, e.g. the database gone mid-job.
    await sql(t.db.url, 'alter table auth_throttle rename to auth_throttle_away');
    try {
      await expect(run('email__password_reset', { email: user!.email }, '301')).rejects.toThrow();
    } finally {
      await sql(t.db.url, 'alter table auth_throttle_away rename to auth_throttle');
    }
    await run('email__password_reset', { email: user!.email }, '301');
    await smtp.waitFor(user!.email);
    await settle();
    expect(mailTo(user!.email)).toHaveLength(1);
  });

  describe('sendOnce', () => {
    /** A mailer that only records whom it was asked to send to. */
    const countingMailer = () => {
      const sends: string[] = [];
      const counting: Mailer = {
        send: async (m) => {
          sends.push(m.to);
          return { messageId: m.messageId ?? 'x' };
        },
        close: () => {},
      };
      return { sends, counting };
    };
    /**
     * Makes recording the send of `key` fail as a terminated connection does: its first attempt only (a
     * sequence, which is not rolled back with the failing statement, counts them) or every one. Resolves
     * with the undo.
     */
    const failStamps = async (key: string, which: 'first' | 'every') => {
      const name = `fail_stamp_${key}`;
      await sql(
        t.db.url,
        `create sequence ${name}_attempts;
         create function ${name}() returns trigger language plpgsql as $$
         begin
           if new.key = '${key}' and new.sent_at is not null and old.sent_at is null
              and (${which === 'every'} or nextval('${name}_attempts') = 1) then
             raise exception 'terminating connection due to administrator command' using errcode = 'admin_shutdown';
           end if;
           return new;
         end $$;
         create trigger ${name} before update on email_delivery for each row execute function ${name}();`,
      );
      return () =>
        sql(
          t.db.url,
          `drop trigger ${name} on email_delivery; drop function ${name}(); drop sequence ${name}_attempts`,
        );
    };

    it('lets one of two concurrent senders send; the other is told to retry', async () => {
      let release: () => void = () => {};
      let claimed: () => void = () => {};
      const gate = new Promise<void>((r) => (release = r));
      const ownsIt = new Promise<void>((r) => (claimed = r));
      const message = { to: 'race@shop.test', subject: 'Race', text: 'x', html: '<p>x</p>' };
      const first = sendOnce(fork(), mailer, {
        key: 'race',
        kind: 'test',
        compose: async () => {
          claimed(); // compose runs only once the delivery is ours
          await gate;
          return message;
        },
      });
      await ownsIt;
      await expect(
        sendOnce(fork(), mailer, { key: 'race', kind: 'test', compose: async () => message }),
      ).rejects.toBeInstanceOf(DeliveryInProgressError);
      release();
      expect((await first).status).toBe('sent');
      expect((await sendOnce(fork(), mailer, { key: 'race', kind: 'test', compose: async () => message })).status).toBe(
        'already_sent',
      );
    });

    it('lets the job holding a lapsed-answer claim retry at once; another job still waits', async () => {
      // Job 7's claim committed but its answer was lost with the connection: the row is claimed, unsent.
      await sql(
        t.db.url,
        `insert into email_delivery (key, kind, job_id, attempts, claimed_until, created_at)
         values ('lost-claim', 'test', '7', 1, now() + interval '5 minutes', now())`,
      );
      const message = { to: 'lost@shop.test', subject: 'Lost', text: 'x', html: '<p>x</p>' };
      await expect(
        sendOnce(fork(), mailer, { key: 'lost-claim', kind: 'test', jobId: '8', compose: async () => message }),
      ).rejects.toBeInstanceOf(DeliveryInProgressError);
      const retry = await sendOnce(fork(), mailer, {
        key: 'lost-claim',
        kind: 'test',
        jobId: '7',
        compose: async () => message,
      });
      expect(retry.status).toBe('sent');
    });

    it('never lets a retry take back a claim whose send was attempted (every stamp failed): it waits out the lease', async () => {
      // Every stamp fails, as with a database away for longer than the stamp's retries.
      const undo = await failStamps('unstamped', 'every');
      try {
        const { sends, counting } = countingMailer();
        const delivery = {
          key: 'unstamped',
          kind: 'test',
          jobId: '9',
          stampRetryDelaysMs: [10, 10],
          compose: async () => ({ to: 'unstamped@shop.test', subject: 'Unstamped', text: 'x', html: '<p>x</p>' }),
        };
        await expect(sendOnce(fork(), counting, delivery)).rejects.toThrow(/administrator command/);
        // The same job's retry: the message may be out, so it must not send again.
        await expect(sendOnce(fork(), counting, delivery)).rejects.toBeInstanceOf(DeliveryInProgressError);
        expect(sends).toHaveLength(1);
      } finally {
        await undo();
      }
    });

    it('releases the claim when sending fails, so the retry sends', async () => {
      const failing: Mailer = { send: () => Promise.reject(new Error('SMTP down')), close: () => {} };
      const message = { to: 'retry@shop.test', subject: 'Retry', text: 'x', html: '<p>x</p>' };
      await expect(
        sendOnce(fork(), failing, { key: 'retry', kind: 'test', compose: async () => message }),
      ).rejects.toThrow('SMTP down');
      expect(
        (await sendOnce(fork(), mailer, { key: 'retry', kind: 'test', compose: async () => message })).status,
      ).toBe('sent');
      const [row] = await sql<{ attempts: number; sent: boolean }>(
        t.db.url,
        `select attempts, sent_at is not null as sent from email_delivery where key = 'retry'`,
      );
      expect(row).toEqual({ attempts: 2, sent: true });
    });

    it('records a send whose stamp failed once (a lost connection), so the retry does not send again', async () => {
      const undo = await failStamps('stamp', 'first');
      try {
        const { sends, counting } = countingMailer();
        const delivery = {
          key: 'stamp',
          kind: 'test',
          compose: async () => ({ to: 'stamp@shop.test', subject: 'Stamp', text: 'x', html: '<p>x</p>' }),
        };
        expect((await sendOnce(fork(), counting, delivery)).status).toBe('sent');
        expect((await sendOnce(fork(), counting, delivery)).status).toBe('already_sent');
        expect(sends).toHaveLength(1);
      } finally {
        await undo();
      }
    });

    it('records nothing when there is nothing to send', async () => {
      const result = await sendOnce(fork(), mailer, { key: 'nothing', kind: 'test', compose: async () => null });
      expect(result.status).toBe('nothing_to_send');
      expect(await sql(t.db.url, `select 1 from email_delivery where key = 'nothing'`)).toEqual([]);
    });
  });
});
