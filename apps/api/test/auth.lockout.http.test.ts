/**
 * Log-in throttling that stops guessing without locking the owner out, through the real API: a refused
 * attempt charges no rule that did not refuse it, and a device that logged in before (cookie or
 * `deviceToken`) is counted on its own, outside the per-account rule (OWASP's device cookies). Client
 * addresses come through a trusted proxy (X-Forwarded-For); counters are read from `auth_throttle`.
 */
import { hashToken, issueEmailToken } from '@keelson/auth';
import { type RawResponse, rawCall, sql, startTestApi, type TestApi } from '@keelson/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const PASSWORD = 'correct horse battery staple';
let counter = 0;
const newEmail = () => `owner${++counter}.${Date.now()}@lockout.test`;
/** A fresh client address for every call: 10.20.x.y. */
let addresses = 0;
const freshIp = () => `10.20.${Math.floor(++addresses / 250)}.${addresses % 250}`;

describe('log-in lock-outs only for the attacker', () => {
  let api: TestApi;

  beforeAll(async () => {
    api = await startTestApi({ config: { TRUST_PROXY: '127.0.0.1' } });
  });
  afterAll(async () => {
    await api?.close();
  });

  interface LogIn {
    email: string;
    password: string;
    ip: string;
    /** The whole Cookie header a browser sends. */
    cookie?: string;
    /** What a client without cookies passes. */
    deviceToken?: string;
  }
  const logIn = (a: LogIn): Promise<RawResponse> =>
    rawCall(api.baseUrl, {
      path: 'auth.logIn',
      type: 'mutation',
      input: { email: a.email, password: a.password, ...(a.deviceToken ? { deviceToken: a.deviceToken } : {}) },
      headers: {
        'x-forwarded-for': a.ip,
        ...(a.cookie ? { cookie: a.cookie, 'sec-fetch-site': 'same-origin' } : {}),
      },
    });
  const deviceCookieOf = (res: RawResponse) => {
    const cookie = res.cookies.find((c) => c.startsWith('keelson_device='));
    if (!cookie) throw new Error(`no device cookie (status ${res.status})`);
    return cookie.split(';')[0]!;
  };

  /**
   * An account whose owner has logged in twice before: from a browser (which keeps the device cookie)
   * and from an app (which keeps the device token it was given).
   */
  async function owner() {
    const email = newEmail();
    const client = api.newClient({ headers: () => ({ 'x-forwarded-for': freshIp() }) });
    await client.auth.signUp.mutate({ email, password: PASSWORD, name: 'Owner' });
    const browser = await logIn({ email, password: PASSWORD, ip: freshIp() });
    expect(browser.status).toBe(200);
    // As the README's app does at its first log-in: no device token yet.
    const app = await client.auth.logIn.mutate({ email, password: PASSWORD, deviceToken: undefined });
    return { email, cookie: deviceCookieOf(browser), deviceToken: app.deviceToken, userId: app.user.id };
  }

  /**
   * The counters of an account (its devices included) and of the given addresses, keyed `bucket key`;
   * rows at zero are left out (an owner's success gives back its own charge).
   */
  async function counters(email: string, ...ips: string[]) {
    const rows = await sql<{ bucket: string; key: string; hits: number; blocked: boolean }>(
      api.db.url,
      `select bucket, key, hits, coalesce(blocked_until > now(), false) as blocked from auth_throttle
       where (hits > 0 or blocked_until > now())
         and (key = $1 or starts_with(key, $1 || ' ') or key = any($2)
          or key in (select d.id::text from auth_device d join app_user u on u.id = d.user_id where u.email = $1))`,
      [email, ips],
    );
    return Object.fromEntries(rows.map((r) => [`${r.bucket} ${r.key}`, { hits: r.hits, blocked: r.blocked }]));
  }
  const hits = async (email: string, bucket: string, key: string) =>
    (await counters(email, key))[`${bucket} ${key}`]?.hits ?? 0;
  /** The per-account rule blocked for the next hour, as 50 guesses from all over would leave it. */
  const lockAccount = (email: string) =>
    sql(
      api.db.url,
      `insert into auth_throttle (bucket, key, hits, window_started_at, blocked_until)
       values ('login:account', $1, 50, now(), now() + interval '1 hour')
       on conflict (bucket, key) do update set hits = 50, window_started_at = now(), blocked_until = now() + interval '1 hour'`,
      [email],
    );
  const statuses = (responses: RawResponse[]) => responses.map((r) => r.status);
  const count = (list: number[], status: number) => list.filter((s) => s === status).length;

  it('60 wrong passwords from one address lock out neither the owner elsewhere nor their devices there', async () => {
    const { email, cookie, deviceToken } = await owner();
    const attacker = '203.0.113.7';
    const results: number[] = [];
    for (let i = 0; i < 60; i++) results.push((await logIn({ email, password: `guess ${i}`, ip: attacker })).status);
    expect(results.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(results[5]).toBe(429);
    const checked = count(results, 401);
    expect(checked + count(results, 429)).toBe(60);
    // Only the attempts that were checked were counted, under every rule alike; the refused ones, nowhere.
    expect(await counters(email, attacker)).toMatchObject({
      [`login:account-ip ${email} ${attacker}`]: { hits: checked, blocked: true },
      [`login:account ${email}`]: { hits: checked, blocked: false },
      [`login:ip ${attacker}`]: { hits: checked, blocked: false },
    });
    expect(checked).toBeLessThan(50);

    // The owner, from another address, without any device token.
    expect((await logIn({ email, password: PASSWORD, ip: '198.51.100.2' })).status).toBe(200);
    // From the attacker's own address (one NAT), on a device that logged in before: cookie or token.
    expect((await logIn({ email, password: PASSWORD, ip: attacker, cookie })).status).toBe(200);
    expect((await logIn({ email, password: PASSWORD, ip: attacker, deviceToken })).status).toBe(200);
  });

  it('charges no rule an attempt that another rule refuses', async () => {
    const { email } = await owner();
    const ip = freshIp();
    // Refused by the account+IP rule: the per-account and per-IP counters do not move.
    for (let i = 0; i < 5; i++) expect((await logIn({ email, password: 'wrong', ip })).status).toBe(401);
    const before = await counters(email, ip);
    expect(before[`login:account-ip ${email} ${ip}`]).toEqual({ hits: 5, blocked: true });
    for (let i = 0; i < 5; i++) expect((await logIn({ email, password: 'wrong', ip })).status).toBe(429);
    expect(await counters(email, ip)).toEqual(before);

    // Refused by the per-IP rule (credential stuffing from that address): no account counter is even created.
    const stuffer = freshIp();
    await sql(
      api.db.url,
      `insert into auth_throttle (bucket, key, hits, window_started_at, blocked_until)
       values ('login:ip', $1, 100, now(), now() + interval '10 minutes')`,
      [stuffer],
    );
    const other = await owner();
    const blocked = await logIn({ email: other.email, password: 'wrong', ip: stuffer });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(500);
    expect(await counters(other.email, stuffer)).toEqual({ [`login:ip ${stuffer}`]: { hits: 100, blocked: true } });

    // Refused by the per-account rule: the account+IP and per-IP counters of that address do not move.
    await lockAccount(other.email);
    const fresh = freshIp();
    const refused = await logIn({ email: other.email, password: 'wrong', ip: fresh });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(3500);
    expect(Object.keys(await counters(other.email, fresh))).toEqual([`login:account ${other.email}`]);
  });

  it('lets N concurrent guesses past no limit, and charges all of their rules alike', async () => {
    const { email, cookie } = await owner();
    const ip = freshIp();
    const oneAddress = statuses(
      await Promise.all(Array.from({ length: 30 }, (_, i) => logIn({ email, password: `guess ${i}`, ip }))),
    );
    // As in a serial run: 5 checked, then one more per back-off block (1 s, 2 s) that lapses meanwhile.
    expect(count(oneAddress, 401)).toBeGreaterThanOrEqual(5);
    expect(count(oneAddress, 401)).toBeLessThanOrEqual(7);
    expect(count(oneAddress, 401) + count(oneAddress, 429)).toBe(30);
    const checked = count(oneAddress, 401);
    expect(await hits(email, 'login:account-ip', `${email} ${ip}`)).toBe(checked);
    expect(await hits(email, 'login:account', email)).toBe(checked);
    expect(await hits(email, 'login:ip', ip)).toBe(checked);

    // The same burst on the owner's device: counted per device, and nowhere else.
    const onDevice = statuses(
      await Promise.all(
        Array.from({ length: 30 }, (_, i) => logIn({ email, password: `guess ${i}`, ip: freshIp(), cookie })),
      ),
    );
    expect(count(onDevice, 401)).toBeGreaterThanOrEqual(5);
    expect(count(onDevice, 401)).toBeLessThanOrEqual(7);
    expect(count(onDevice, 401) + count(onDevice, 429)).toBe(30);
    const [device] = await sql<{ id: string }>(api.db.url, 'select id from auth_device where token_hash = $1', [
      hashToken(cookie.split('=')[1]!),
    ]);
    expect(await hits(email, 'login:device', device!.id)).toBe(count(onDevice, 401));
    expect(await hits(email, 'login:account', email)).toBe(checked);
  });

  it('stops an attacker spread over many addresses at 50 an hour; the owner’s devices still get in', async () => {
    const { email, cookie, deviceToken } = await owner();
    // 70 guesses at once, each from an address of its own: the per-account rule lets exactly 50 through.
    const spread = statuses(
      await Promise.all(Array.from({ length: 70 }, (_, i) => logIn({ email, password: `guess ${i}`, ip: freshIp() }))),
    );
    expect(count(spread, 401)).toBe(50);
    expect(count(spread, 429)).toBe(20);
    const after = await counters(email);
    expect(after[`login:account ${email}`]).toEqual({ hits: 50, blocked: true });
    // The 20 refused left nothing behind: 50 account+IP counters, one guess each.
    const perAddress = Object.entries(after).filter(([k]) => k.startsWith('login:account-ip '));
    expect(perAddress.map(([, v]) => v.hits)).toEqual(Array(50).fill(1));
    const late = await logIn({ email, password: 'guess 71', ip: freshIp() });
    expect(late.status).toBe(429);
    expect(Number(late.headers.get('retry-after'))).toBeGreaterThan(3500);

    // A client the account has never seen waits too, the owner included: that is the rule's price.
    expect((await logIn({ email, password: PASSWORD, ip: freshIp() })).status).toBe(429);
    // A device that logged in before does not.
    const browser = await logIn({ email, password: PASSWORD, ip: freshIp(), cookie });
    expect(browser.status).toBe(200);
    const app = await logIn({ email, password: PASSWORD, ip: freshIp(), deviceToken });
    expect(app.status).toBe(200);
    // Its success does not wipe what the attacker spent: the account stays closed to strangers.
    expect((await logIn({ email, password: 'guess 72', ip: freshIp() })).status).toBe(429);
    expect(await hits(email, 'login:account', email)).toBe(50);
  });

  it('gives no trust to a forged, expired, rotated or other account’s device token', async () => {
    const victim = await owner();
    const other = await owner();
    await lockAccount(victim.email);
    const attempt = (extra: Partial<LogIn>) =>
      logIn({ email: victim.email, password: PASSWORD, ip: freshIp(), ...extra });

    const forged = 'A'.repeat(43);
    expect((await attempt({ cookie: `keelson_device=${forged}` })).status).toBe(429);
    expect((await attempt({ deviceToken: forged })).status).toBe(429);
    // Another account's real device is no device of this one (and is charged nothing).
    expect((await attempt({ cookie: other.cookie })).status).toBe(429);
    expect((await attempt({ deviceToken: other.deviceToken })).status).toBe(429);
    expect(Object.keys(await counters(other.email))).toEqual([]);
    // Malformed device cookies are no device token, and no error either. (`%%%`, which the session
    // cookie's parser still answers with a 500, is the hostile-input tests' case.)
    const malformed = [
      'keelson_device=',
      'keelson_device',
      'keelson_device=not a token',
      `keelson_device=${'x'.repeat(5000)}`,
    ];
    for (const cookie of malformed) expect((await attempt({ cookie })).status).toBe(429);
    // An expired device is forgotten.
    await sql(
      api.db.url,
      `update auth_device set expires_at = now() - interval '1 second'
       where user_id = $1 and token_hash = $2`,
      [victim.userId, hashToken(victim.deviceToken)],
    );
    expect((await attempt({ deviceToken: victim.deviceToken })).status).toBe(429);

    // Each log-in replaces the token it presented: a copy taken before stops working.
    const first = await attempt({ cookie: victim.cookie });
    expect(first.status).toBe(200);
    const next = deviceCookieOf(first);
    expect(next).not.toBe(victim.cookie);
    expect((await attempt({ cookie: victim.cookie })).status).toBe(429);
    expect((await attempt({ cookie: next })).status).toBe(200);
  });

  it('rejects a malformed device token input with a typed error, changing nothing', async () => {
    const { email } = await owner();
    const ip = freshIp();
    for (const deviceToken of ['', 'x'.repeat(257), 42]) {
      const res = await rawCall(api.baseUrl, {
        path: 'auth.logIn',
        type: 'mutation',
        input: { email, password: PASSWORD, deviceToken },
        headers: { 'x-forwarded-for': ip },
      });
      expect(res.status).toBe(400);
      expect(res.error?.data).toMatchObject({
        code: 'BAD_REQUEST',
        appCode: 'VALIDATION_FAILED',
        issues: [expect.objectContaining({ path: ['deviceToken'] })],
      });
      expect(res.cookies).toEqual([]);
    }
    expect(await counters(email, ip)).toEqual({});
  });

  it('throttles a device on its own: its back-off touches neither the account nor other devices', async () => {
    const { email, cookie, deviceToken } = await owner();
    const ip = freshIp();
    for (let i = 0; i < 5; i++) expect((await logIn({ email, password: 'wrong', ip, cookie })).status).toBe(401);
    const blocked = await logIn({ email, password: PASSWORD, ip, cookie });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await hits(email, 'login:account', email)).toBe(0);
    expect((await logIn({ email, password: PASSWORD, ip, deviceToken })).status).toBe(200);
    expect((await logIn({ email, password: PASSWORD, ip })).status).toBe(200);
  });

  it('keeps the newest 20 devices of an account: a client that drops its tokens cannot grow the table', async () => {
    const { email, userId } = await owner();
    const ip = freshIp();
    const tokens: string[] = [];
    for (let i = 0; i < 22; i++) {
      const res = await logIn({ email, password: PASSWORD, ip });
      expect(res.status).toBe(200);
      tokens.push((res.data as { deviceToken: string }).deviceToken);
    }
    const kept = await sql<{ token_hash: string }>(
      api.db.url,
      'select token_hash from auth_device where user_id = $1',
      [userId],
    );
    expect(kept.map((r) => r.token_hash).sort()).toEqual(tokens.slice(-20).map(hashToken).sort());
    // Succeeding 22 times cost the account's budget nothing: each success gave its charge back.
    expect(await hits(email, 'login:account', email)).toBe(0);
  });

  it('forgets every device at a password reset, and all but the caller’s at a password change', async () => {
    const { email, cookie, deviceToken, userId } = await owner();
    const devices = () => sql(api.db.url, 'select 1 from auth_device where user_id = $1', [userId]);
    expect(await devices()).toHaveLength(2);
    // Changed from the app, which names its device: the browser's is forgotten, the app's kept.
    const session = await api.newClient({ headers: () => ({ 'x-forwarded-for': freshIp() }) }).auth.logIn.mutate({
      email,
      password: PASSWORD,
      deviceToken,
    });
    const app = api.newClient({ token: () => session.token });
    await app.account.changePassword.mutate({
      currentPassword: PASSWORD,
      newPassword: 'a changed passphrase',
      deviceToken: session.deviceToken,
    });
    expect(await devices()).toHaveLength(1);
    await lockAccount(email);
    expect((await logIn({ email, password: 'a changed passphrase', ip: freshIp(), cookie })).status).toBe(429);
    const kept = await logIn({
      email,
      password: 'a changed passphrase',
      ip: freshIp(),
      deviceToken: session.deviceToken,
    });
    expect(kept.status).toBe(200);

    // A reset (the emailed token, as the worker mints it) forgets them all: the thief's too.
    const token = await issueEmailToken(api.orm.em.fork(), {
      userId,
      kind: 'reset_password',
      email: null,
    });
    await api.client.auth.resetPassword.mutate({ token, password: 'a reset passphrase' });
    expect(await devices()).toEqual([]);
  });
});
