/**
 * The built-in pages (pages.ts) in a real Chromium, under the API's real Content-Security-Policy: the
 * links an email carries verify an address and reset a password, the sign-in form signs in with the
 * HttpOnly cookie, and the account page shows who is signed in, then logs out.
 */
import { issueEmailToken, issuePasswordReset } from '@keelson/auth';
import { createUsers, needsTool, startTestApi, type TestApi } from '@keelson/testing';
import { launchChromium } from '@keelson/testing/browser';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

describe('built-in pages in Chromium', needsTool('chromium'), () => {
  let api: TestApi;
  let browser: (BrowserContext & AsyncDisposable) | undefined;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    api = await startTestApi();
    browser = await launchChromium();
    page = await browser.newPage();
    // A CSP violation or a failed script shows here: none is expected. (Answers of 4xx, which the pages
    // show as text, and the missing favicon are logged as failed loads: those are not script errors.)
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text());
    });
    page.on('pageerror', (err) => errors.push(err.message));
  }, 60_000);
  afterAll(async () => {
    await browser?.[Symbol.asyncDispose]();
    await api?.close();
  });

  it('an emailed verification link verifies the address, also after a reload, and the token leaves the address bar', async () => {
    const [user] = await createUsers(api.db.url, 1);
    const token = await issueEmailToken(api.orm.em.fork(), {
      userId: user?.id as string,
      kind: 'verify_email',
      email: null,
    });
    // As the email links it: the token in the fragment, which the browser never sends to the server.
    await page.goto(`${api.baseUrl}/verify-email#token=${encodeURIComponent(token)}`);
    expect(new URL(page.url()).hash).toBe('');
    await page.reload(); // the tab keeps the token until it is used
    await page.getByRole('button', { name: 'Verify my address' }).click();
    await expect
      .poll(() => page.getByRole('status').textContent())
      .toBe(`${user?.email} is verified. You can sign in.`);
    // The same link again (in the query, as older emails had it): the API's message, shown as text.
    await page.goto(`${api.baseUrl}/verify-email?token=${encodeURIComponent(token)}`);
    expect(new URL(page.url()).search).toBe('');
    await page.getByRole('button', { name: 'Verify my address' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).not.toBe('');
    expect(await page.getByRole('status').textContent()).not.toContain('verified. You can');
  });

  it('a reset link sets a new password; the sign-in form then signs in with the cookie; the account page logs out', async () => {
    const [user] = await createUsers(api.db.url, 1);
    const reset = await issuePasswordReset(api.orm.em.fork(), user?.email as string);
    const password = 'a page-set passphrase nobody guesses';
    await page.goto(`${api.baseUrl}/reset-password?token=${encodeURIComponent(reset?.token as string)}`);
    await page.getByLabel('New password').fill(password);
    await page.getByRole('button', { name: 'Set the password' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toMatch(/^Your password is changed/);

    await page.goto(`${api.baseUrl}/sign-in`);
    await page.getByLabel('Email').fill(user?.email as string);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${api.baseUrl}/account`);
    await expect.poll(() => page.locator('[data-account]').textContent()).toContain(`<${user?.email}> (customer)`);
    const cookies = await browser?.cookies(api.baseUrl);
    expect(cookies?.some((c) => c.httpOnly && c.sameSite === 'Lax')).toBe(true);

    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(`${api.baseUrl}/sign-in`);
    await page.goto(`${api.baseUrl}/account`);
    await expect.poll(() => page.locator('[data-account]').textContent()).toBe('You are not signed in.');
  });

  it('a failed OIDC return shows its error code; a wrong password shows the API message', async () => {
    await page.goto(`${api.baseUrl}/sign-in?error=OIDC_REJECTED`);
    expect(await page.getByRole('alert').textContent()).toBe('Sign-in failed (OIDC_REJECTED). Try again.');
    await page.getByLabel('Email').fill('nobody@shop.test');
    await page.getByLabel('Password').fill('not the password at all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toBe('Wrong email or password.');
    expect(errors).toEqual([]);
  });
});
