/**
 * No personal data or secret leaves in telemetry. The API and the worker run as real processes, started
 * the way `pnpm start:api`/`start:worker` start them (`--import @keelson/telemetry/register`), exporting
 * spans and log records as OTLP/protobuf to a real HTTP receiver here; a customer signs up, verifies, logs in, checks out, resets
 * the password and logs in again. Then every byte exported (spans) and every log line the processes
 * printed is searched for every secret of that run: the email, both passwords, the session, verification
 * and reset tokens, the payment token, and every hash and token the database holds. Protobuf keeps
 * strings as raw UTF-8, so a search of the bytes finds any attribute, event or status that holds one.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import {
  createProduct,
  eventually,
  freePort,
  rawCall,
  sql,
  startProcess,
  startSmtpCapture,
  testDatabase,
} from '@keelson/testing';
import { describe, expect, it } from 'vitest';

/** An OTLP/HTTP receiver: keeps the raw body of every export, by signal (`/v1/traces`, `/v1/logs`). */
async function startOtlpReceiver() {
  const bodies: { path: string; body: Buffer }[] = [];
  const read = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    return req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
  };
  const server = createServer((req, res) => {
    read(req).then(
      (body) => {
        bodies.push({ path: req.url ?? '', body });
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      },
      () => res.writeHead(400).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    bodies,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('no personal data or secrets in exported telemetry', () => {
  it('sign-up, log-in, checkout and password reset export spans that hold none of their secrets', {
    timeout: 120_000,
  }, async () => {
    await using db = await testDatabase();
    const otlp = await startOtlpReceiver();
    await using smtp = await startSmtpCapture();
    const port = await freePort();
    const common = {
      DATABASE_URL: db.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      // Export promptly; the last batch goes out as each process exits.
      OTEL_BSP_SCHEDULE_DELAY: '200',
      LOG_LEVEL: 'info',
      PUBLIC_URL: `http://127.0.0.1:${port}`,
    };
    const telemetry = ['--import', '@keelson/telemetry/register'];
    await using api = startProcess(
      'apps/api/src/main.ts',
      { ...common, HOST: '127.0.0.1', PORT: String(port) },
      { nodeArgs: telemetry },
    );
    await using worker = startProcess(
      'apps/worker/src/main.ts',
      { ...common, SMTP_URL: smtp.url, WORKER_HTTP_PORT: String(await freePort()) },
      { nodeArgs: telemetry },
    );
    await api.waitFor(/api listening/, 30_000);
    await worker.waitFor(/worker http listening/, 30_000);
    const base = `http://127.0.0.1:${port}`;
    const product = await createProduct(db.url, { priceCents: 1500, stock: 10 });

    const email = `pii-${randomBytes(4).toString('hex')}@example.test`;
    const password = `first secret ${randomBytes(6).toString('hex')}`;
    const newPassword = `second secret ${randomBytes(6).toString('hex')}`;
    /** A call that must succeed; `token` signs it in. */
    const call = async (path: string, input: unknown, token?: string) => {
      const type = /\.(get|list)$/.test(path) ? 'query' : 'mutation';
      const headers = token ? { authorization: `Bearer ${token}` } : undefined;
      const res = await rawCall(base, { path, type, input, ...(headers ? { headers } : {}) });
      expect(res.status, `${path}: ${JSON.stringify(res.error)}`).toBe(200);
      return res.data as Record<string, unknown>;
    };

    await call('auth.signUp', { email, password, name: 'Ada Lovelace' });
    const verification = await smtp.waitFor(email, (m) => m.token !== null, 30_000);
    await call('auth.verifyEmail', { token: verification.token });
    const first = (await call('auth.logIn', { email, password })) as { token: string };
    await call('cart.addItem', { productId: product.id, quantity: 2 }, first.token);
    const paymentToken = 'tok_visa';
    const checkout = { idempotencyKey: randomUUID(), paymentToken };
    const order = (await call('orders.checkout', checkout, first.token)) as { id: string };
    // The payment job runs in the worker: its spans are part of what must be clean.
    await eventually(async () => {
      const o = (await call('orders.get', { id: order.id }, first.token)) as { status: string };
      return o.status !== 'pending_payment' && o.status !== 'pending';
    }, 30_000);
    // A GET whose input holds the email: it must not reach url.query or url.path.
    await call('catalog.list', { q: email, limit: 2 });
    await call('auth.requestPasswordReset', { email });
    const reset = await smtp.waitFor(email, (m) => m.token !== null && m.token !== verification.token, 30_000);
    await call('auth.resetPassword', { token: reset.token, password: newPassword });
    const second = (await call('auth.logIn', { email, password: newPassword })) as { token: string };
    // A failed log-in with the right email and a wrong password (its error path is traced too).
    const refused = await rawCall(base, { path: 'auth.logIn', type: 'mutation', input: { email, password } });
    expect(refused.status).toBe(401);

    // Everything the database keeps that is secret or personal: hashes, tokens, emails.
    const columns = (await sql(
      db.url,
      `select table_name, column_name from information_schema.columns
        where table_schema = 'public' and data_type in ('text', 'character varying', 'bytea')
          and (column_name ~ '(hash|token|email|secret)')`,
    )) as { table_name: string; column_name: string }[];
    const stored: string[] = [];
    for (const { table_name, column_name } of columns) {
      const rows = (await sql(
        db.url,
        `select "${column_name}"::text as v from "${table_name}" where "${column_name}" is not null`,
      )) as { v: string }[];
      stored.push(...rows.map((r) => r.v).filter((v) => v.length >= 8));
    }
    expect(stored.some((v) => v.startsWith('$argon2id$'))).toBe(true);

    expect((await api.stop('SIGTERM')).code).toBe(0);
    expect((await worker.stop('SIGTERM')).code).toBe(0);
    await otlp.close();

    // Spans and log records, every byte of them.
    const exported = Buffer.concat(otlp.bodies.map((b) => b.body)).toString('latin1');
    // Not an empty scan: the run's spans arrived, SQL with its text and names among them.
    for (const expected of ['trpc auth.signUp', 'trpc orders.checkout', 'process payment__capture', 'db.query.text']) {
      expect(exported, expected).toContain(expected);
    }
    expect(exported).toMatch(/SELECT app_user|INSERT app_user|UPDATE app_user/);
    expect(exported).toContain('messaging.destination.name');
    // Log lines are exported as OTLP log records too, and scanned with the spans.
    const exportedLogs = Buffer.concat(otlp.bodies.filter((b) => b.path === '/v1/logs').map((b) => b.body)).toString(
      'latin1',
    );
    expect(exportedLogs).toContain('Completed task');
    const logs = api.output() + worker.output();
    expect(logs).toContain('"msg":"request"');
    // graphile-worker's own line for a finished job names the job's span, like every line inside it.
    const completed = worker
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg?: string; trace_id?: string; span_id?: string })
      .filter((l) => l.msg?.startsWith('Completed task'));
    expect(completed.length).toBeGreaterThan(0);
    for (const line of completed) {
      expect(line.trace_id, line.msg).toMatch(/^[0-9a-f]{32}$/);
      expect(line.span_id, line.msg).toMatch(/^[0-9a-f]{16}$/);
    }

    const secrets = {
      email,
      password,
      newPassword,
      'session token (first log-in)': first.token,
      'session token (second log-in)': second.token,
      'verification token': verification.token ?? '',
      'reset token': reset.token ?? '',
      'payment token': paymentToken,
      ...Object.fromEntries(stored.map((v, i) => [`stored value ${i}`, v])),
    };
    const leaks: string[] = [];
    for (const [what, value] of Object.entries(secrets)) {
      expect(value.length, what).toBeGreaterThan(0);
      // Latin-1 reading of the bytes: a UTF-8 secret is found by its own bytes read the same way.
      const needle = Buffer.from(value, 'utf8').toString('latin1');
      if (exported.includes(needle)) leaks.push(`${what} in exported spans`);
      if (logs.includes(value)) leaks.push(`${what} in log lines`);
    }
    expect(leaks).toEqual([]);
  });
});
