/**
 * The URLs people open (pages.ts): `/` and `/trpc` say what this is and list every procedure; the pages
 * emails and the OIDC flow link to exist, under the same security headers, and their script calls the
 * procedures the way it says (checked here over HTTP with the exact requests it sends).
 */
import { issueEmailToken, issuePasswordReset } from '@keelson/auth';
import { createUsers, startTestApi, type TestApi } from '@keelson/testing';
import { appRouter } from '@keelson/trpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

describe('pages at the URLs people open', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi();
  });
  afterAll(() => api.close());

  const get = (path: string, accept = 'text/html') => fetch(`${api.baseUrl}${path}`, { headers: { accept } });

  it('`/` and `/trpc` in a browser: a page naming every procedure with its type', async () => {
    const names = Object.keys(appRouter._def.procedures);
    for (const path of ['/', '/trpc']) {
      const res = await get(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
      const html = await res.text();
      expect(html).toContain('<title>Keelson API · Keelson</title>');
      expect(html).toContain(`<h2>${names.length} procedures</h2>`);
      for (const name of names) expect(html, name).toContain(`<code>${name}</code>`);
      expect(html).toContain('<tr><td><code>catalog.list</code></td><td>query</td></tr>');
      expect(html).toContain('<tr><td><code>orders.checkout</code></td><td>mutation</td></tr>');
      expect(html).toContain('<tr><td><code>orders.onStatusChange</code></td><td>subscription</td></tr>');
    }
  });

  it('`/trpc` for a program: the same list as JSON; procedures still answer under it', async () => {
    const res = await get('/trpc', 'application/json');
    expect(res.status).toBe(200);
    const { procedures } = (await res.json()) as { procedures: { path: string; type: string }[] };
    expect(procedures).toHaveLength(Object.keys(appRouter._def.procedures).length);
    expect(procedures).toContainEqual({ path: 'auth.logIn', type: 'mutation' });
    expect((await api.client.catalog.list.query({ limit: 1 })).items).toEqual([]);
    expect((await get('/trpc/no.such.procedure', 'application/json')).status).toBe(404);
  });

  it('the email and sign-in link paths are pages, loading their script from this origin', async () => {
    for (const path of [
      '/verify-email?token=abc',
      '/reset-password?token=abc',
      '/sign-in?error=OIDC_REJECTED',
      '/account',
    ]) {
      const res = await get(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('x-frame-options'), path).toBe('DENY');
      expect(await res.text(), path).toContain('<script type="module" src="/_pages/browser.js"></script>');
    }
    const script = await get('/_pages/browser.js', '*/*');
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await script.text()).toContain("'auth.verifyEmail'");
  });

  /** A call exactly as browser.js makes it: one unbatched POST with superjson's `{ json }` envelope. */
  const post = (path: string, input: unknown, cookie?: string) =>
    fetch(`${api.baseUrl}/trpc/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: api.baseUrl, ...(cookie ? { cookie } : {}) },
      body: JSON.stringify({ json: input }),
    });

  it("the pages' requests verify an address, reset a password and sign in with the cookie", async () => {
    const [user] = await createUsers(api.db.url, 1);
    const em = api.orm.em.fork();
    const verifyToken = await issueEmailToken(em, { userId: user?.id as string, kind: 'verify_email', email: null });
    const verified = await post('auth.verifyEmail', { token: verifyToken });
    expect(verified.status).toBe(200);
    expect(((await verified.json()) as { result: { data: { json: { email: string } } } }).result.data.json.email).toBe(
      user?.email,
    );

    const reset = await issuePasswordReset(em, user?.email as string);
    const password = 'a brand new page passphrase';
    expect((await post('auth.resetPassword', { token: reset?.token, password })).status).toBe(200);
    const loggedIn = await post('auth.logIn', { email: user?.email, password });
    expect(loggedIn.status).toBe(200);
    const cookie = loggedIn.headers.get('set-cookie')?.split(';')[0] as string;
    const me = await fetch(`${api.baseUrl}/trpc/auth.me`, { headers: { cookie } });
    expect(((await me.json()) as { result: { data: { json: { email: string } } } }).result.data.json.email).toBe(
      user?.email,
    );

    // A wrong token: the message the page shows, not an internal error.
    const bad = await post('auth.verifyEmail', { token: verifyToken });
    expect(bad.status).toBeGreaterThanOrEqual(400);
    expect(bad.status).toBeLessThan(500);
    const body = (await bad.json()) as { error: { json: { message: string } } };
    expect(body.error.json.message).toMatch(/\w/);
  });
});
