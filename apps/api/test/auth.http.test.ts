/**
 * Accounts and sessions through the real API: cookies and bearer tokens, CSRF, WebSocket auth, emails
 * sent by the real worker to a real SMTP server, throttling across two API processes.
 */
import { closeClient } from '@keelson/client';
import {
  freePort,
  rawCall,
  type SmtpCapture,
  sql,
  startProcess,
  startSmtpCapture,
  startTestApi,
  startTestWorker,
  type TestApi,
} from '@keelson/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';

const PASSWORD = 'correct horse battery staple';
let counter = 0;
const newEmail = () => `user${++counter}.${Date.now()}@example.test`;

describe('accounts over HTTP', () => {
  let api: TestApi;
  let smtp: SmtpCapture;
  let worker: AsyncDisposable & { stop(): Promise<void> };
  const origin = 'http://app.example.test';

  beforeAll(async () => {
    smtp = await startSmtpCapture();
    api = await startTestApi({
      config: {
        PUBLIC_URL: origin,
        SESSION_IDLE_TIMEOUT_MS: '60000',
        SESSION_MAX_AGE_MS: '180000',
        TRUST_PROXY: 'loopback',
      },
    });
    worker = await startTestWorker({ db: api.db, config: { SMTP_URL: smtp.url, PUBLIC_URL: origin } });
  });
  afterAll(async () => {
    await worker?.stop();
    await api?.close();
    await smtp?.close();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  // Each sign-up comes from its own address (through the trusted proxy), as real users do: one IP may
  // create only a few accounts an hour. Sign-up starts no session, so the new user logs in next.
  async function signUp(email = newEmail()) {
    const ip = `10.0.${Math.floor(counter / 250)}.${counter % 250}`;
    const client = api.newClient({ headers: () => ({ 'x-forwarded-for': ip }) });
    await client.auth.signUp.mutate({ email, password: PASSWORD, name: 'Ada' });
    const res = await client.auth.logIn.mutate({ email, password: PASSWORD });
    return { ...res, email };
  }
  const bearer = (token: string) => api.newClient({ token: () => token });
  const cookieOf = (cookies: string[], name = 'keelson_session') =>
    cookies.find((c) => c.startsWith(`${name}=`))?.split(';')[0] ?? '';

  it('logs in after signing up, sets HttpOnly SameSite=Lax cookies, and answers me() for cookie and bearer', async () => {
    const email = newEmail();
    const signedUp = await rawCall(api.baseUrl, {
      path: 'auth.signUp',
      type: 'mutation',
      input: { email: email.toUpperCase(), password: PASSWORD, name: 'Ada' },
    });
    expect(signedUp.status).toBe(200);
    expect(signedUp.data).toEqual({ status: 'verification_sent', email });
    expect(signedUp.cookies).toEqual([]);
    const res = await rawCall(api.baseUrl, {
      path: 'auth.logIn',
      type: 'mutation',
      input: { email, password: PASSWORD },
    });
    expect(res.status).toBe(200);
    for (const name of ['keelson_session', 'keelson_device']) {
      const cookie = res.cookies.find((c) => c.startsWith(`${name}=`));
      expect(cookie).toMatch(/HttpOnly/i);
      expect(cookie).toMatch(/SameSite=Lax/i);
      expect(cookie).toMatch(/Path=\//);
      expect(cookie).not.toMatch(/Secure/i); // PUBLIC_URL is http here
    }
    // The device is remembered for half a year; the session cookie lives as long as the session.
    expect(res.cookies.find((c) => c.startsWith('keelson_device='))).toMatch(/Max-Age=15552000/);
    const { token, user, deviceToken } = res.data as {
      token: string;
      deviceToken: string;
      user: { email: string; emailVerified: boolean };
    };
    expect(user).toMatchObject({ email, emailVerified: false });
    expect(cookieOf(res.cookies, 'keelson_device')).toBe(`keelson_device=${deviceToken}`);

    const viaCookie = await rawCall(api.baseUrl, {
      path: 'auth.me',
      type: 'query',
      headers: { cookie: cookieOf(res.cookies) },
    });
    expect(viaCookie.data).toMatchObject({ email });
    expect(await bearer(token).auth.me.query()).toMatchObject({ email });
    expect(await api.client.auth.me.query()).toBeNull();
  });

  it('answers a sign-up of a taken address exactly as a new one, and emails the owner once instead', async () => {
    const { email, user } = await signUp();
    const fresh = newEmail();
    // Same client address for both, so the answers can differ only by what the server knows.
    const attempt = (address: string) =>
      rawCall(api.baseUrl, {
        path: 'auth.signUp',
        type: 'mutation',
        input: { email: address.toUpperCase(), password: 'some other passphrase', name: 'Eve' },
        headers: { 'x-forwarded-for': '10.99.0.1' },
      });
    const taken = await attempt(email);
    const created = await attempt(fresh);
    const shape = (r: Awaited<ReturnType<typeof attempt>>) => ({
      status: r.status,
      cookies: r.cookies,
      headers: [...r.headers.entries()].filter(([k]) => !['x-request-id', 'date', 'content-length'].includes(k)),
      length: Number(r.headers.get('content-length')),
    });
    expect(taken.data).toEqual({ status: 'verification_sent', email });
    expect(created.data).toEqual({ status: 'verification_sent', email: fresh });
    // The bodies differ only by the address each echoes.
    expect(shape(taken)).toEqual({ ...shape(created), length: shape(created).length - fresh.length + email.length });
    expect(taken.error).toBeNull();

    const notice = await smtp.waitFor(email, (m) => m.text.includes('which already has one'));
    expect(notice.text).toContain(`${origin}/sign-in`);
    await smtp.waitFor(fresh); // the new address got its verification link
    await new Promise((r) => setTimeout(r, 500));
    expect(smtp.messages.filter((m) => m.to.includes(email) && m.text.includes('which already has one'))).toHaveLength(
      1,
    );
    // Nothing about the existing account changed: its name, its password.
    expect(await sql(api.db.url, 'select name from app_user where id = $1', [user.id])).toEqual([{ name: 'Ada' }]);
    await expect(api.client.auth.logIn.mutate({ email, password: PASSWORD })).resolves.toBeDefined();
    await expect(api.client.auth.logIn.mutate({ email, password: 'some other passphrase' })).rejects.toMatchObject({
      data: { appCode: 'INVALID_CREDENTIALS' },
    });
  });

  it('answers two concurrent sign-ups of one new address alike: one account, its owner told of the other', async () => {
    const email = newEmail();
    const answers = await Promise.all(
      ['10.98.0.1', '10.98.0.2'].map((ip) =>
        api
          .newClient({ headers: () => ({ 'x-forwarded-for': ip }) })
          .auth.signUp.mutate({ email, password: PASSWORD, name: ip }),
      ),
    );
    expect(answers).toEqual([
      { status: 'verification_sent', email },
      { status: 'verification_sent', email },
    ]);
    expect(await sql(api.db.url, 'select 1 from app_user where email = $1', [email])).toHaveLength(1);
    await smtp.waitFor(email, (m) => m.text.includes('verify-email'));
    await smtp.waitFor(email, (m) => m.text.includes('which already has one'));
  });

  it('does the same work for a taken address as for a new one (the password is hashed either way)', async () => {
    const { email } = await signUp();
    // The API runs in this process, so its CPU time (argon2's thread pool included) is measurable
    // here, and far steadier than wall-clock time on a shared machine.
    const cpuOf = async (address: string, ip: string) => {
      const before = process.cpuUsage();
      await rawCall(api.baseUrl, {
        path: 'auth.signUp',
        type: 'mutation',
        input: { email: address, password: 'a timing passphrase', name: 'T' },
        headers: { 'x-forwarded-for': ip },
      });
      const used = process.cpuUsage(before);
      return (used.user + used.system) / 1000;
    };
    const taken: number[] = [];
    const fresh: number[] = [];
    for (let i = 0; i < 10; i++) {
      taken.push(await cpuOf(email, `10.97.0.${i}`));
      fresh.push(await cpuOf(newEmail(), `10.97.1.${i}`));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
    // argon2id (~19 MiB, 2 passes) dominates both; a skipped hash would leave a fraction of it.
    const ratio = median(taken) / median(fresh);
    expect(ratio).toBeGreaterThan(0.6);
    expect(ratio).toBeLessThan(1.6);
  });

  it('refuses common passwords and short ones, changing nothing', async () => {
    const email = newEmail();
    await expect(api.client.auth.signUp.mutate({ email, password: 'password123', name: 'A' })).rejects.toMatchObject({
      data: { code: 'BAD_REQUEST', appCode: 'WEAK_PASSWORD' },
    });
    await expect(api.client.auth.signUp.mutate({ email, password: 'short', name: 'A' })).rejects.toMatchObject({
      data: { code: 'BAD_REQUEST', issues: [expect.objectContaining({ path: ['password'] })] },
    });
    expect(await sql(api.db.url, 'select 1 from app_user where email = $1', [email])).toEqual([]);
  });

  it('never stores a live token: the session, token and device tables hold only hashes', async () => {
    const { token, deviceToken } = await signUp();
    const logIn = await api.client.auth.logIn.mutate({ email: (await signUp()).email, password: PASSWORD });
    const dump = JSON.stringify(
      await sql(
        api.db.url,
        `select (select json_agg(s) from auth_session s) as s, (select json_agg(t) from auth_token t) as t,
                (select json_agg(d) from auth_device d) as d`,
      ),
    );
    for (const secret of [token, deviceToken, logIn.token, logIn.deviceToken]) expect(dump).not.toContain(secret);
    expect(
      (await sql<{ n: number }>(api.db.url, 'select count(*)::int as n from auth_session'))[0]!.n,
    ).toBeGreaterThanOrEqual(2);
  });

  it('gives one generic error for an unknown email and a wrong password', async () => {
    const { email } = await signUp();
    const unknown = await api.client.auth.logIn
      .mutate({ email: newEmail(), password: PASSWORD })
      .catch((e: unknown) => e);
    const wrong = await api.client.auth.logIn.mutate({ email, password: 'not the password' }).catch((e: unknown) => e);
    for (const err of [unknown, wrong]) {
      expect(err).toMatchObject({
        message: 'Wrong email or password.',
        data: { code: 'UNAUTHORIZED', appCode: 'INVALID_CREDENTIALS' },
      });
    }
  });

  it('starts a new session at every log-in; the token sent with the log-in dies (fixation)', async () => {
    const { email, token: before } = await signUp();
    const res = await rawCall(api.baseUrl, {
      path: 'auth.logIn',
      type: 'mutation',
      input: { email, password: PASSWORD },
      headers: { authorization: `Bearer ${before}` },
    });
    const after = (res.data as { token: string }).token;
    expect(after).not.toBe(before);
    expect(await bearer(before).auth.me.query()).toBeNull();
    expect(await bearer(after).auth.me.query()).toMatchObject({ email });
    // A value an attacker planted as cookie never becomes a session.
    const planted = 'attacker-chosen-session-value-123456';
    const withPlanted = await rawCall(api.baseUrl, {
      path: 'auth.logIn',
      type: 'mutation',
      input: { email, password: PASSWORD },
      headers: { cookie: `keelson_session=${planted}`, 'sec-fetch-site': 'same-origin' },
    });
    expect(cookieOf(withPlanted.cookies)).not.toContain(planted);
    expect(await bearer(planted).auth.me.query()).toBeNull();
  });

  it('logs out server-side and clears the cookie', async () => {
    const { token } = await signUp();
    const res = await rawCall(api.baseUrl, {
      path: 'auth.logOut',
      type: 'mutation',
      headers: { cookie: `keelson_session=${token}`, 'sec-fetch-site': 'same-origin' },
    });
    expect(res.status).toBe(200);
    expect(res.cookies.find((c) => c.startsWith('keelson_session='))).toMatch(/Max-Age=0/i);
    expect(await bearer(token).auth.me.query()).toBeNull();
  });

  it('expires an idle session, renews a used one, and ends every session at its absolute lifetime', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const start = Date.now();
    const idle = await signUp();
    const used = await signUp();
    // 40 s in: more than half the 60 s idle timeout is gone, so using the session renews it.
    vi.setSystemTime(start + 40_000);
    const renewed = await rawCall(api.baseUrl, {
      path: 'auth.me',
      type: 'query',
      headers: { cookie: `keelson_session=${used.token}` },
    });
    expect(renewed.data).toMatchObject({ email: used.email });
    expect(cookieOf(renewed.cookies)).toBe(`keelson_session=${used.token}`); // a fresh cookie, same token
    // 70 s in: the idle session is past 60 s; the renewed one is not.
    vi.setSystemTime(start + 70_000);
    expect(await bearer(idle.token).auth.me.query()).toBeNull();
    expect(await bearer(used.token).auth.me.query()).toMatchObject({ email: used.email });
    // Kept in use, it still dies at the 180 s absolute lifetime.
    for (const t of [110_000, 150_000, 175_000]) {
      vi.setSystemTime(start + t);
      expect(await bearer(used.token).auth.me.query()).not.toBeNull();
    }
    vi.setSystemTime(start + 181_000);
    expect(await bearer(used.token).auth.me.query()).toBeNull();
  });

  it('lists sessions with the current one flagged, revokes one, revokes the others', async () => {
    const { email, token: first } = await signUp();
    const second = (await api.client.auth.logIn.mutate({ email, password: PASSWORD })).token;
    const third = (await api.client.auth.logIn.mutate({ email, password: PASSWORD })).token;
    // A session unused for a while gets its last use stamped when it comes back.
    await sql(api.db.url, `update auth_session set last_used_at = now() - interval '2 hours'`);
    const sessions = await bearer(third).auth.sessions.list.query();
    expect(sessions).toHaveLength(3);
    const current = sessions.find((s) => s.current)!;
    expect(Date.now() - current.lastUsedAt.getTime()).toBeLessThan(60_000);
    expect(sessions.filter((s) => Date.now() - s.lastUsedAt.getTime() > 3_600_000)).toHaveLength(2);
    expect(sessions.filter((s) => s.current)).toHaveLength(1);
    const other = sessions.find((s) => !s.current)!;
    await bearer(third).auth.sessions.revoke.mutate({ id: other.id });
    expect(await bearer(third).auth.sessions.list.query()).toHaveLength(2);
    expect(await bearer(third).auth.sessions.revokeOthers.mutate()).toEqual({ revoked: 1 });
    expect(await bearer(first).auth.me.query()).toBeNull();
    expect(await bearer(second).auth.me.query()).toBeNull();
    expect(await bearer(third).auth.me.query()).toMatchObject({ email });
  });

  it("answers NOT_FOUND for another user's session", async () => {
    const a = await signUp();
    const b = await signUp();
    const [aSession] = await bearer(a.token).auth.sessions.list.query();
    await expect(bearer(b.token).auth.sessions.revoke.mutate({ id: aSession!.id })).rejects.toMatchObject({
      data: { code: 'NOT_FOUND' },
    });
    expect(await bearer(a.token).auth.me.query()).not.toBeNull();
  });

  it('ends the other sessions when the password changes, and checks the current password', async () => {
    const { email, token: other } = await signUp();
    const current = (await api.client.auth.logIn.mutate({ email, password: PASSWORD })).token;
    await expect(
      bearer(current).account.changePassword.mutate({
        currentPassword: 'wrong',
        newPassword: 'a brand new passphrase',
      }),
    ).rejects.toMatchObject({ data: { appCode: 'INVALID_CREDENTIALS' } });
    await bearer(current).account.changePassword.mutate({
      currentPassword: PASSWORD,
      newPassword: 'a brand new passphrase',
    });
    expect(await bearer(other).auth.me.query()).toBeNull();
    expect(await bearer(current).auth.me.query()).toMatchObject({ email });
    await expect(api.client.auth.logIn.mutate({ email, password: PASSWORD })).rejects.toMatchObject({
      data: { appCode: 'INVALID_CREDENTIALS' },
    });
    await expect(api.client.auth.logIn.mutate({ email, password: 'a brand new passphrase' })).resolves.toBeDefined();
  });

  describe('CSRF', () => {
    const mutate = (token: string, headers: Record<string, string>) =>
      rawCall(api.baseUrl, {
        path: 'account.updateProfile',
        type: 'mutation',
        input: { name: 'Changed' },
        headers: { cookie: `keelson_session=${token}`, ...headers },
      });

    it('refuses cookie-authenticated mutations from another site, changing nothing', async () => {
      const { token, user } = await signUp();
      const attempts: Record<string, string>[] = [
        {},
        { origin: 'https://evil.example' },
        { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
      ];
      for (const headers of attempts) {
        const res = await mutate(token, headers);
        expect(res.status).toBe(403);
        expect(res.error?.data).toMatchObject({ code: 'FORBIDDEN', appCode: 'CSRF_REJECTED' });
      }
      expect(await sql(api.db.url, 'select name from app_user where id = $1', [user.id])).toEqual([{ name: 'Ada' }]);
    });

    it('accepts same-origin fetch metadata, an allowed Origin, and any bearer request', async () => {
      const { token } = await signUp();
      expect((await mutate(token, { 'sec-fetch-site': 'same-origin' })).status).toBe(200);
      expect((await mutate(token, { origin })).status).toBe(200);
      await expect(bearer(token).account.updateProfile.mutate({ name: 'Bearer' })).resolves.toMatchObject({
        name: 'Bearer',
      });
    });

    it('refuses a mutation a browser marks cross-site even without a cookie (log-in CSRF)', async () => {
      const { email } = await signUp();
      const res = await rawCall(api.baseUrl, {
        path: 'auth.logIn',
        type: 'mutation',
        input: { email, password: PASSWORD },
        headers: { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
      });
      expect(res.status).toBe(403);
      expect(res.cookies).toEqual([]);
    });

    it('lets cross-site queries through: they change nothing', async () => {
      const { token } = await signUp();
      const res = await rawCall(api.baseUrl, {
        path: 'auth.me',
        type: 'query',
        headers: { cookie: `keelson_session=${token}`, origin: 'https://evil.example' },
      });
      expect(res.status).toBe(200);
    });
  });

  describe('WebSocket', () => {
    it('authenticates with a token in connectionParams', async () => {
      const { token, email } = await signUp();
      const ws = api.newClient({ transport: 'ws', token: () => token });
      expect(await ws.auth.me.query()).toMatchObject({ email });
      await closeClient(ws);
    });

    it('checks the session again on every call: a log-out elsewhere reaches an open socket', async () => {
      const { token, email } = await signUp();
      const ws = api.newClient({ transport: 'ws', token: () => token });
      expect(await ws.auth.me.query()).toMatchObject({ email });
      await bearer(token).auth.logOut.mutate();
      expect(await ws.auth.me.query()).toBeNull();
      await expect(ws.account.updateProfile.mutate({ name: 'Ghost' })).rejects.toMatchObject({
        data: { code: 'UNAUTHORIZED' },
      });
      await closeClient(ws);
    });

    it('refuses an upgrade from a foreign Origin and accepts the app origin', async () => {
      const url = `${api.baseUrl.replace('http', 'ws')}/trpc`;
      const outcome = (headers: Record<string, string>) =>
        new Promise<string>((resolve) => {
          const socket = new WebSocket(url, { headers });
          socket.once('open', () => {
            socket.close();
            resolve('open');
          });
          socket.once('unexpected-response', (_req, res) => resolve(String(res.statusCode)));
          socket.once('error', () => resolve('error'));
        });
      expect(await outcome({ origin: 'https://evil.example' })).toBe('403');
      expect(await outcome({ origin })).toBe('open');
    });
  });

  describe('emails from the worker', () => {
    it('verifies the address with the emailed link, once', async () => {
      const { email, token } = await signUp();
      const mail = await smtp.waitFor(email);
      // In the fragment: a browser never sends it, so no access log, proxy or trace ever holds the token.
      expect(mail.text).toContain(`${origin}/verify-email#token=`);
      expect(mail.token).toBeTruthy();
      await expect(api.client.auth.verifyEmail.mutate({ token: mail.token! })).resolves.toMatchObject({
        emailVerified: true,
      });
      expect(await bearer(token).auth.me.query()).toMatchObject({ emailVerified: true });
      await expect(api.client.auth.verifyEmail.mutate({ token: mail.token! })).rejects.toMatchObject({
        data: { appCode: 'INVALID_TOKEN' },
      });
    });

    it('resets a password with a single-use emailed token, ending every session', async () => {
      const { email, token: session } = await signUp();
      await expect(api.client.auth.requestPasswordReset.mutate({ email })).resolves.toEqual({ ok: true });
      const mail = await smtp.waitFor(email, (m) => m.text.includes('reset-password'));
      await api.client.auth.resetPassword.mutate({ token: mail.token!, password: 'another fine passphrase' });
      expect(await bearer(session).auth.me.query()).toBeNull();
      await expect(api.client.auth.logIn.mutate({ email, password: 'another fine passphrase' })).resolves.toBeDefined();
      await expect(
        api.client.auth.resetPassword.mutate({ token: mail.token!, password: 'yet another passphrase' }),
      ).rejects.toMatchObject({ data: { appCode: 'INVALID_TOKEN' } });
    });

    it('answers an unknown address exactly like a known one, and sends nothing', async () => {
      const email = newEmail();
      await expect(api.client.auth.requestPasswordReset.mutate({ email })).resolves.toEqual({ ok: true });
      await new Promise((r) => setTimeout(r, 500));
      expect(smtp.messages.filter((m) => m.to.includes(email))).toEqual([]);
    });

    it('refuses a reset token after its hour', async () => {
      const { email } = await signUp();
      await api.client.auth.requestPasswordReset.mutate({ email });
      const mail = await smtp.waitFor(email, (m) => m.text.includes('reset-password'));
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(Date.now() + 61 * 60 * 1000);
      await expect(
        api.client.auth.resetPassword.mutate({ token: mail.token!, password: 'too late passphrase' }),
      ).rejects.toMatchObject({ data: { appCode: 'INVALID_TOKEN' } });
    });

    it('honours only the newest verification link: an old one cannot switch the address back', async () => {
      const { email, token } = await signUp();
      const first = await smtp.waitFor(email);
      const next = newEmail();
      await bearer(token).account.changeEmail.mutate({ currentPassword: PASSWORD, newEmail: next });
      const second = await smtp.waitFor(next);
      await api.client.auth.verifyEmail.mutate({ token: second.token! });
      await expect(api.client.auth.verifyEmail.mutate({ token: first.token! })).rejects.toMatchObject({
        data: { appCode: 'INVALID_TOKEN' },
      });
      expect(await bearer(token).auth.me.query()).toMatchObject({ email: next });
    });

    it('retires every other reset link once one is used', async () => {
      const { email } = await signUp();
      await api.client.auth.requestPasswordReset.mutate({ email });
      const first = await smtp.waitFor(email, (m) => m.text.includes('reset-password'));
      await api.client.auth.requestPasswordReset.mutate({ email });
      const second = await smtp.waitFor(email, (m) => m.text.includes('reset-password') && m.token !== first.token);
      await expect(
        api.client.auth.resetPassword.mutate({ token: first.token!, password: 'first link passphrase' }),
      ).rejects.toMatchObject({ data: { appCode: 'INVALID_TOKEN' } });
      await api.client.auth.resetPassword.mutate({ token: second.token!, password: 'second link passphrase' });
      await expect(api.client.auth.logIn.mutate({ email, password: 'second link passphrase' })).resolves.toBeDefined();
    });

    it('changes the email only once the new address is confirmed', async () => {
      const { email, token } = await signUp();
      const next = newEmail();
      await expect(
        bearer(token).account.changeEmail.mutate({ currentPassword: PASSWORD, newEmail: next }),
      ).resolves.toEqual({ pendingEmail: next });
      expect(await bearer(token).auth.me.query()).toMatchObject({ email });
      const mail = await smtp.waitFor(next);
      await api.client.auth.verifyEmail.mutate({ token: mail.token! });
      expect(await bearer(token).auth.me.query()).toMatchObject({ email: next, emailVerified: true });
    });
  });

  describe('admin', () => {
    it('never lets two concurrent demotions leave the system without an active admin', async () => {
      const [x, y] = [await signUp(), await signUp()];
      await sql(api.db.url, `update app_user set role = 'customer' where role = 'admin'`);
      await sql(api.db.url, `update app_user set role = 'admin' where id = any($1)`, [[x.user.id, y.user.id]]);
      const results = await Promise.allSettled([
        bearer(x.token).users.setRole.mutate({ id: y.user.id, role: 'customer' }),
        bearer(y.token).users.setRole.mutate({ id: x.user.id, role: 'customer' }),
      ]);
      const [{ n }] = (await sql<{ n: number }>(
        api.db.url,
        `select count(*)::int as n from app_user where role = 'admin' and disabled_at is null`,
      )) as [{ n: number }];
      expect(n).toBeGreaterThanOrEqual(1);
      expect(results.filter((r) => r.status === 'rejected').length).toBeGreaterThanOrEqual(1);
    });

    it('disabling a user ends their sessions and blocks log-in; enabling restores log-in', async () => {
      const admin = await signUp();
      await sql(api.db.url, `update app_user set role = 'admin' where id = $1`, [admin.user.id]);
      const victim = await signUp();
      await bearer(admin.token).users.disable.mutate({ id: victim.user.id });
      expect(await bearer(victim.token).auth.me.query()).toBeNull();
      await expect(api.client.auth.logIn.mutate({ email: victim.email, password: PASSWORD })).rejects.toMatchObject({
        data: { appCode: 'INVALID_CREDENTIALS' },
      });
      await bearer(admin.token).users.enable.mutate({ id: victim.user.id });
      await expect(api.client.auth.logIn.mutate({ email: victim.email, password: PASSWORD })).resolves.toBeDefined();
    });
  });
});

describe('log-in throttling across two API processes', () => {
  it('blocks an account after repeated failures on either process, with Retry-After', async () => {
    await using a = await startTestApi();
    // The second API is a real `pnpm start:api` process on the same database.
    const port = await freePort();
    await using other = startProcess('apps/api/src/main.ts', {
      DATABASE_URL: a.db.url,
      PORT: String(port),
      LOG_LEVEL: 'info',
    });
    await other.waitFor(/api listening/);
    const b = `http://127.0.0.1:${port}`;
    const email = newEmail();
    await a.client.auth.signUp.mutate({ email, password: PASSWORD, name: 'Target' });
    const attempt = (baseUrl: string, password: string) =>
      rawCall(baseUrl, { path: 'auth.logIn', type: 'mutation', input: { email, password } });
    // Five free failures, alternating processes; the sixth is throttled.
    for (const url of [a.baseUrl, b, a.baseUrl, b, a.baseUrl]) expect((await attempt(url, 'wrong')).status).toBe(401);
    const blocked = await attempt(b, 'wrong');
    expect(blocked.status).toBe(429);
    expect(blocked.error?.data).toMatchObject({
      code: 'TOO_MANY_REQUESTS',
      details: { retryAfterSeconds: expect.any(Number) },
    });
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    // Even the right password waits while blocked: guessing gains nothing.
    expect((await attempt(a.baseUrl, PASSWORD)).status).toBe(429);
  });

  it('counts a burst of concurrent guesses before checking any of them', async () => {
    await using api = await startTestApi();
    const email = newEmail();
    await api.client.auth.signUp.mutate({ email, password: PASSWORD, name: 'Burst' });
    const guesses = Array.from({ length: 20 }, (_, i) =>
      rawCall(api.baseUrl, { path: 'auth.logIn', type: 'mutation', input: { email, password: `guess ${i}` } }),
    );
    const statuses = (await Promise.all(guesses)).map((r) => r.status);
    // Only the attempts within the limit were checked (401); every other one was refused unchecked.
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(5);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(15);
  });
});
