import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, withLogFields } from '../src/index.ts';

/** A logger whose lines are collected, parsed. */
function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: createLogger({ name: 'test', level: 'info', destination }) };
}

describe('createLogger', () => {
  it('redacts passwords, tokens, cookies and authorization headers wherever they are logged', () => {
    const { lines, logger } = capture();
    logger.info({ password: 'p1', token: 't1', cookie: 'c1', authorization: 'Bearer a1' }, 'top');
    logger.info({ input: { password: 'p2', token: 't2' }, headers: { cookie: 'c2', authorization: 'a2' } }, 'nested');
    logger.info(
      { req: { headers: { authorization: 'a3', cookie: 'c3' } }, res: { headers: { 'set-cookie': 's3' } } },
      'http',
    );
    const text = JSON.stringify(lines);
    for (const secret of ['p1', 't1', 'c1', 'a1', 'p2', 't2', 'c2', 'a2', 'a3', 'c3', 's3']) {
      expect(text).not.toContain(`"${secret}"`);
      expect(text).not.toContain(`Bearer ${secret}`);
    }
    expect(lines[1]).toMatchObject({ input: { password: '[redacted]' }, headers: { authorization: '[redacted]' } });
  });

  it('masks values inside messages and errors, and drops the data fields of driver and mailer errors', () => {
    const { lines, logger } = capture();
    const pgError = Object.assign(new Error('duplicate key value violates unique constraint "app_user_email_key"'), {
      code: '23505',
      detail: 'Key (email)=(ada@example.com) already exists.',
    });
    logger.error({ err: pgError }, 'procedure failed');
    const smtpError = Object.assign(new Error("Can't send mail - all recipients were rejected: <ada@example.com>"), {
      rejected: ['ada@example.com'],
    });
    logger.error({ err: smtpError }, `Failed task 7 (email__send_receipt) with error '${smtpError.message}'`);
    logger.info({ newPassword: 'np1', input: { user: { password: 'p3' } } }, 'deep');
    const text = JSON.stringify(lines);
    expect(text).not.toContain('ada@example.com');
    expect(text).not.toContain('np1');
    expect(text).not.toContain('p3');
    expect(lines[0]).toMatchObject({ err: { code: '23505' } });
    expect(lines[0]?.err).not.toHaveProperty('detail');
    expect(lines[1]?.msg).toBe(
      "Failed task 7 (email__send_receipt) with error 'Can't send mail - all recipients were rejected: <[email]>'",
    );
  });

  it('adds the fields of withLogFields to every line inside it, and no trace ids without tracing', async () => {
    const { lines, logger } = capture();
    await withLogFields({ userId: 'usr_1' }, async () => {
      await Promise.resolve();
      logger.child({ reqId: 'r1' }).info('inside');
    });
    logger.info('outside');
    expect(lines[0]).toMatchObject({ userId: 'usr_1', reqId: 'r1', msg: 'inside' });
    expect(lines[1]).not.toHaveProperty('userId');
    expect(lines[0]).not.toHaveProperty('trace_id');
  });
});
