/**
 * The account pages in a real Chromium against the real stack: sign-up through the emailed link,
 * sign-in and back, the reset link, profile and password, sessions, and the live order page and badge,
 * including a session revoked elsewhere, which signs the open page out and ends its subscriptions.
 */
import { needsTool, type TestUser } from '@keelson/testing';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mailLink, startWebStack, type WebStack } from './stack.ts';

describe('the account pages in Chromium', needsTool('chromium'), () => {
  let stack: WebStack;
  let admin: TestUser;
  beforeAll(async () => {
    stack = await startWebStack();
    admin = (await stack.users(1, 'admin'))[0] as TestUser;
  }, 60_000);
  afterEach(() => stack.closeContexts());
  afterAll(() => stack?.close());

  const PASSWORD = 'a long enough passphrase for the store';

  async function signIn(page: Page, email: string, password: string) {
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  it('signs up, verifies the address from the emailed link, signs in and shows the name', async () => {
    const email = `new-${Date.now()}@shop.test`;
    const page = await stack.newPage();
    await page.goto('/sign-up');
    await page.getByLabel('Name').fill('Ada Buyer');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill('short');
    await page.getByRole('button', { name: 'Create the account' }).click();
    // The API's field issue, beside the field.
    await page.locator('.field .issue').first().waitFor();
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create the account' }).click();
    await page.getByRole('heading', { name: 'Check your email' }).waitFor();

    const link = mailLink(await stack.mailTo(email), '/verify-email');
    expect(link).toMatch(/\/verify-email#token=/);
    await page.goto(link);
    // The token leaves the address bar at once, and survives a reload until used.
    await expect.poll(() => new URL(page.url()).hash).toBe('');
    await page.reload();
    await page.getByRole('button', { name: 'Verify my address' }).click();
    await page.getByText(`${email} is verified.`).waitFor();

    await page.goto('/sign-in');
    await signIn(page, email, 'not the password at all');
    await page.getByRole('alert').getByText('Wrong email or password.').waitFor();
    await signIn(page, email, PASSWORD);
    await page.waitForURL(/\/account$/);
    await page.getByRole('link', { name: 'Ada Buyer' }).waitFor();
    expect(stack.pageErrors).toEqual([]);
    await page.context().close();
  });

  it('sends a signed-out visitor of /orders to sign in, then back; a reset link sets a new password', async () => {
    const [user] = await stack.users(1);
    const page = await stack.newPage();
    await page.goto('/forgot-password');
    await page.getByLabel('Email').fill(user!.email);
    await page.getByRole('button', { name: 'Send me a link' }).click();
    await page
      .getByRole('status')
      .getByText(/a link to choose a new password is on its way/)
      .waitFor();
    const link = mailLink(await stack.mailTo(user!.email, { subject: /password/i }), '/reset-password');
    await page.goto(link);
    await expect.poll(() => new URL(page.url()).hash).toBe('');
    const password = 'my brand new store passphrase';
    await page.getByLabel('New password').fill(password);
    await page.getByRole('button', { name: 'Set the password' }).click();
    await page.getByText('Your password is changed').waitFor();

    await page.goto('/orders');
    await page.waitForURL(/\/sign-in\?returnTo=%2Forders/);
    await signIn(page, user!.email, password);
    await page.waitForURL(/\/orders$/);
    await page.getByRole('heading', { name: 'Your orders' }).waitFor();
    await page.getByText('No orders yet.').waitFor();
    await page.context().close();
  });

  it('changes the name, refuses a short new password beside its field, and shows an OIDC error', async () => {
    const [user] = await stack.users(1);
    const page = await stack.newPage(await stack.newContext(user));
    await page.goto('/account');
    await page.getByLabel('Name').fill('Grace Shopper');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('link', { name: 'Grace Shopper' }).waitFor();
    await page.getByLabel('Current password', { exact: true }).fill('whatever it was');
    await page.getByLabel('New password').fill('short');
    await page.getByRole('button', { name: 'Change the password' }).click();
    const issue = page.locator('.field:has(input[autocomplete="new-password"]) .issue');
    await issue.waitFor();
    expect(await issue.textContent()).toMatch(/\w/);
    // The OIDC flow's way back after a refusal; no provider button without a provider.
    await page.goto('/sign-in?error=OIDC_REJECTED');
    await page
      .getByRole('alert')
      .getByText(/Signing in with your provider was refused/)
      .waitFor();
    expect(await page.getByRole('link', { name: 'Sign in with your provider' }).count()).toBe(0);
    await page.context().close();
  });

  /** An order of `user`'s, placed through the API (cart, then checkout with a sandbox token). */
  async function placeOrder(user: TestUser, paymentToken = 'tok_visa') {
    const client = stack.api.newClient({ token: () => user.token });
    const product = await stack.product({ name: `Lamp ${Date.now()}`, priceCents: 2000, stock: 5 });
    await client.cart.addItem.mutate({ productId: product.id, quantity: 1 });
    return client.orders.checkout.mutate({ idempotencyKey: crypto.randomUUID(), paymentToken });
  }

  it("shows an order's status live (paid by the worker, shipped by the staff) and counts the notification", async () => {
    const [user] = await stack.users(1);
    const page = await stack.newPage(await stack.newContext(user!));
    await page.goto('/');
    const header = page.getByRole('navigation', { name: 'Main' });
    await header.getByRole('link', { name: /^Notifications/ }).waitFor();
    const order = await placeOrder(user!);
    await page.goto(`/orders/${order.id}`);
    await page.getByText('Live', { exact: true }).waitFor();
    await page.locator('[data-status="paid"]').first().waitFor({ timeout: 15_000 });
    await stack.api.newClient({ token: () => admin.token }).orders.markShipped.mutate({ id: order.id, note: 'DHL' });
    await page.locator('.order-status [data-status="shipped"]').waitFor({ timeout: 10_000 });
    // Paid and shipped: two notifications, counted live in the header.
    await expect.poll(() => page.getByTestId('unread-count').textContent(), { timeout: 10_000 }).toContain('2');
    await header.getByRole('link', { name: /^Notifications/ }).click();
    await page.getByRole('button', { name: 'Mark all read' }).click();
    await expect.poll(() => page.getByTestId('unread-count').count()).toBe(0);
    await page.context().close();
  });

  it('says how long to wait after too many wrong passwords (TOO_MANY_REQUESTS)', async () => {
    const [user] = await stack.users(1);
    const page = await stack.newPage();
    await page.goto('/sign-in');
    for (let i = 0; i < 5; i++) {
      await signIn(page, user!.email, `wrong guess number ${i}`);
      await page.getByRole('alert').getByText('Wrong email or password.').waitFor();
    }
    await signIn(page, user!.email, 'one more wrong guess');
    await page
      .getByRole('alert')
      .getByText(/Try again in \d+ s\./)
      .waitFor();
  });

  it('resumes an order page whose connection dropped: a change made meanwhile shows without a reload', async () => {
    const [user] = await stack.users(1);
    const page = await stack.newPage(await stack.newContext(user!));
    const order = await placeOrder(user!);
    await page.goto(`/orders/${order.id}`);
    await page.locator('.order-status [data-status="paid"]').waitFor({ timeout: 15_000 });
    let sockets = 0;
    page.on('websocket', () => sockets++);
    // The server drops every WebSocket (a restart, a load balancer); the order ships while it is gone.
    for (const ws of stack.api.app.websocketServer.clients) ws.terminate();
    await stack.api.newClient({ token: () => admin.token }).orders.markShipped.mutate({ id: order.id });
    await page.locator('.order-status [data-status="shipped"]').waitFor({ timeout: 15_000 });
    expect(sockets).toBeGreaterThanOrEqual(1);
    await page.getByText('Live', { exact: true }).waitFor();
  });

  it('an order page whose subscription starts after a change still shows it (read again on start)', async () => {
    const [user] = await stack.users(1);
    const page = await stack.newPage(await stack.newContext(user!));
    const order = await placeOrder(user!);
    // The WebSocket is held (a slow network, a busy load balancer) while the order is paid and shipped.
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    await page.routeWebSocket(/\/trpc/, async (ws) => {
      await held;
      ws.connectToServer();
    });
    await page.goto(`/orders/${order.id}`);
    await page.locator('.order-status [data-status]').first().waitFor();
    const mine = stack.api.newClient({ token: () => user!.token });
    await expect
      .poll(async () => (await mine.orders.get.query({ id: order.id })).status, { timeout: 15_000 })
      .toBe('paid');
    await stack.api.newClient({ token: () => admin.token }).orders.markShipped.mutate({ id: order.id });
    release();
    await page.locator('.order-status [data-status="shipped"]').waitFor({ timeout: 15_000 });
    await page.getByText('Live', { exact: true }).waitFor();
  });

  it('lists the sessions and ends the others; a session revoked elsewhere signs the open page out and ends its subscriptions', async () => {
    const email = `two-${Date.now()}@shop.test`;
    await stack.api.client.auth.signUp.mutate({ email, password: PASSWORD, name: 'Two Devices' });
    const laptop = await stack.newPage();
    const phone = await stack.newPage();
    // What the server tells the phone's WebSocket: its subscriptions ended because the session did.
    const endedOnPhone: string[] = [];
    phone.on('websocket', (ws) =>
      ws.on('framereceived', (f) => {
        if (String(f.payload).includes('Your session ended')) endedOnPhone.push(String(f.payload));
      }),
    );
    for (const page of [laptop, phone]) {
      await page.goto('/sign-in?returnTo=/account/sessions');
      await signIn(page, email, PASSWORD);
      await page.getByRole('heading', { name: 'Your sessions' }).waitFor();
    }
    await laptop.reload();
    await expect.poll(() => laptop.getByRole('row').count()).toBe(3); // header + two sessions
    await laptop.getByText('(this one)').waitFor();

    // The phone watches live data: the header's badge subscription.
    await phone.goto('/account/notifications');
    await phone.getByRole('heading', { name: 'Notifications' }).waitFor();
    await expect.poll(() => stack.api.app.realtime.stats.watched).toBeGreaterThanOrEqual(2);

    await laptop.getByRole('button', { name: 'Sign out everywhere else' }).click();
    await laptop.getByText('Ended 1 session(s).').waitFor();
    // No reload and no click on the phone: its subscription ends and the page goes to sign in.
    await phone.waitForURL(/\/sign-in\?returnTo=/, { timeout: 10_000 });
    // The server ended the phone's subscription itself, with UNAUTHORIZED on it.
    expect(endedOnPhone.length).toBeGreaterThanOrEqual(1);
    expect(endedOnPhone[0]).toContain('"code":"UNAUTHORIZED"');
    await laptop.context().close();
    // And nothing is left watched once the laptop goes too (the phone's page is still open).
    await expect.poll(() => stack.api.app.realtime.stats.watched, { timeout: 15_000 }).toBe(0);
    await phone.context().close();
  });
});
