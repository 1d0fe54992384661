/**
 * OpenID Connect sign-in end to end against a real provider (oidc-provider) on loopback: the browser's
 * redirects are followed with per-host cookie jars, exactly as a browser would.
 */
import { hashPassword } from '@keelson/auth';
import { User } from '@keelson/db';
import {
  browse,
  freePort,
  rawCall,
  sql,
  startOidcProvider,
  startTestApi,
  type TestApi,
  type TestOidcProvider,
} from '@keelson/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

describe('OIDC sign-in', () => {
  let api: TestApi;
  let idp: TestOidcProvider;

  beforeAll(async () => {
    const [apiPort, idpPort] = [await freePort(), await freePort()];
    const publicUrl = `http://127.0.0.1:${apiPort}`;
    idp = await startOidcProvider({
      port: idpPort,
      redirectUri: `${publicUrl}/auth/oidc/callback`,
      accounts: {
        'new-user': { email: 'oidc.new@example.test', email_verified: true, name: 'Olive New' },
        'verified-match': { email: 'linked@example.test', email_verified: true, name: 'Linked' },
        'unverified-claim': { email: 'victim@example.test', email_verified: false, name: 'Mallory' },
        'unverified-local': { email: 'unverified.local@example.test', email_verified: true, name: 'Pat' },
        'unverified-new': { email: 'squatter@example.test', email_verified: false, name: 'Squatter' },
      },
    });
    api = await startTestApi({
      config: {
        PORT: String(apiPort),
        PUBLIC_URL: publicUrl,
        OIDC_ISSUER: idp.issuer,
        OIDC_CLIENT_ID: idp.clientId,
        OIDC_CLIENT_SECRET: idp.clientSecret,
        OIDC_ALLOW_HTTP: 'true',
      },
    });
    const em = api.orm.em.fork();
    const passwordHash = await hashPassword('local account passphrase');
    em.create(User, { email: 'linked@example.test', name: 'Local', passwordHash, emailVerifiedAt: new Date() });
    em.create(User, { email: 'victim@example.test', name: 'Victim', passwordHash, emailVerifiedAt: new Date() });
    em.create(User, { email: 'unverified.local@example.test', name: 'Pat', passwordHash, emailVerifiedAt: null });
    await em.flush();
  });
  afterAll(async () => {
    await api?.close();
    await idp?.close();
  });

  async function signIn(sub: string, returnTo = '/account') {
    idp.signInAs(sub);
    const { location, cookies } = await browse(
      `${api.baseUrl}/auth/oidc/start?returnTo=${encodeURIComponent(returnTo)}`,
      '/auth/oidc/callback',
    );
    const session = cookies.find((c) => c.startsWith('keelson_session='))?.split(';')[0];
    const me = session
      ? (await rawCall(api.baseUrl, { path: 'auth.me', type: 'query', headers: { cookie: session } })).data
      : null;
    return { location, me: me as { id: string; email: string; emailVerified: boolean } | null };
  }

  it('tells the sign-in page that OIDC is offered (auth.signInOptions)', async () => {
    expect(await api.client.auth.signInOptions.query()).toEqual({ password: true, oidc: true });
  });

  it('creates a verified account for a new identity and signs it in', async () => {
    const { location, me } = await signIn('new-user');
    expect(location).toBe(`${api.config.auth.publicUrl}/account`);
    expect(me).toMatchObject({ email: 'oidc.new@example.test', emailVerified: true });
    // The same identity signs in to the same account next time.
    expect((await signIn('new-user')).me?.id).toBe(me?.id);
    expect(await sql(api.db.url, `select subject from auth_identity where user_id = $1`, [me?.id])).toEqual([
      { subject: 'new-user' },
    ]);
  });

  it('links to an existing verified account when the provider asserts the email verified', async () => {
    const { me } = await signIn('verified-match');
    const [local] = await sql<{ id: string }>(
      api.db.url,
      `select id from app_user where email = 'linked@example.test'`,
    );
    expect(me?.id).toBe(local?.id);
  });

  it('never links when the provider does not assert the email verified (account takeover)', async () => {
    const { location, me } = await signIn('unverified-claim');
    expect(me).toBeNull();
    expect(location).toBe(`${api.config.auth.publicUrl}/sign-in?error=OIDC_REJECTED`);
    expect(await sql(api.db.url, `select 1 from auth_identity where subject = 'unverified-claim'`)).toEqual([]);
  });

  it('creates no account from an email the provider has not verified (squatting)', async () => {
    const { location, me } = await signIn('unverified-new');
    expect(me).toBeNull();
    expect(location).toContain('error=OIDC_REJECTED');
    expect(await sql(api.db.url, `select 1 from app_user where email = 'squatter@example.test'`)).toEqual([]);
  });

  it('never links to a local account that has not verified its email', async () => {
    const { location, me } = await signIn('unverified-local');
    expect(me).toBeNull();
    expect(location).toContain('error=OIDC_REJECTED');
  });

  it('refuses a callback without the flow cookie (state), and redirects only to local paths', async () => {
    const res = await fetch(`${api.baseUrl}/auth/oidc/callback?code=x&state=y`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toContain('error=OIDC_REJECTED');
    const { location } = await signIn('new-user', '//evil.example/steal');
    expect(location).toBe(`${api.config.auth.publicUrl}/`);
  });
});
