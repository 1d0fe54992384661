/**
 * A customer's whole first visit, as the issue that asked for the web app tells it, in a real Chromium
 * against the real stack: sign up, open the verification email's link, search, add two products, check
 * out, watch the order turn paid without reloading; the admin, in a browser of their own, ships it, and
 * the customer's page shows it shipped and the badge counts the notifications. A declined card shows
 * `payment_failed` live. `pnpm screenshots` runs it to write the README's (docs/screenshots).
 */
import path from 'node:path';
import { needsTool, repoRoot, type TestUser, updatingScreenshots } from '@keelson/testing';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mailLink, startWebStack, type WebStack } from './stack.ts';

const SCREENSHOTS = path.join(repoRoot, 'docs/screenshots');
// Taken on every run (a page that cannot be drawn fails it), written only when asked: a test run leaves
// the checkout as it was.
const shot = (page: Page, name: string) =>
  page.screenshot({
    animations: 'disabled',
    ...(updatingScreenshots() ? { path: path.join(SCREENSHOTS, `${name}.png`) } : {}),
  });

describe("a customer's first order, shipped by the admin, in Chromium", needsTool('chromium'), () => {
  let stack: WebStack;
  let admin: TestUser;
  beforeAll(async () => {
    stack = await startWebStack({ config: { DASHBOARD_INTERVAL_MS: '500' } });
    admin = (await stack.users(1, 'admin'))[0] as TestUser;
    const shop = [
      ['Oak Desk Lamp', 'lighting', 4900],
      ['Walnut Desk Lamp', 'lighting', 5900],
      ['Linen Throw Blanket', 'textiles', 7900],
      ['Ceramic Mug', 'kitchen', 1400],
      ['Copper Mug', 'kitchen', 2200],
      ['Bamboo Serving Board', 'kitchen', 3100],
      ['Glass Plant Pot', 'garden', 1800],
      ['Cotton Notebook', 'stationery', 900],
    ] as const;
    for (const [name, category, priceCents] of shop) await stack.product({ name, category, priceCents, stock: 12 });
  }, 60_000);
  afterEach(() => stack.closeContexts());
  afterAll(() => stack?.close());

  it('signs up, verifies, searches, buys two products, sees the order paid and then shipped, live', async () => {
    const email = `journey-${Date.now()}@shop.test`;
    const password = 'a passphrase for my first order';
    const context = await stack.newContext();
    await context.grantPermissions([]);
    const page = await stack.newPage(context);
    await page.setViewportSize({ width: 1200, height: 800 });

    await page.goto('/sign-up');
    await page.getByLabel('Name').fill('Jo Customer');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Create the account' }).click();
    await page.getByRole('heading', { name: 'Check your email' }).waitFor();
    await page.goto(mailLink(await stack.mailTo(email), '/verify-email'));
    await page.getByRole('button', { name: 'Verify my address' }).click();
    await page.getByText(`${email} is verified.`).waitFor();
    await page.getByRole('link', { name: 'Sign in' }).first().click();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'Jo Customer' }).waitFor();

    // Search the catalogue: two lamps.
    await page.goto('/');
    await page.getByLabel('Search').fill('desk lam');
    await page.getByRole('button', { name: 'Show' }).click();
    const products = page.getByRole('list', { name: 'Products' });
    await expect.poll(() => products.getByRole('link').count()).toBe(2);
    await page.goto('/');
    await expect.poll(() => products.getByRole('link').count()).toBe(8);
    await shot(page, 'storefront');
    await page.getByLabel('Search').fill('desk lam');
    await page.getByRole('button', { name: 'Show' }).click();
    await expect.poll(() => products.getByRole('link').count()).toBe(2);
    for (const name of ['Oak Desk Lamp', 'Walnut Desk Lamp']) {
      await products.getByRole('link', { name }).click();
      await page.getByRole('heading', { name }).waitFor();
      await page.getByRole('button', { name: 'Add to cart' }).click();
      await page.getByText('Added to your cart.').waitFor();
      await page.goBack();
    }
    const header = page.getByRole('navigation', { name: 'Main' });
    await header.getByRole('link', { name: /^Cart/ }).click();
    await expect.poll(() => page.getByTestId('cart-total').textContent()).toContain('108.00');
    await page.getByRole('button', { name: /Place order/ }).click();
    await page.waitForURL(/\/orders\/[0-9a-f-]{36}$/);
    const orderId = new URL(page.url()).pathname.split('/').at(-1) as string;

    // The worker takes the payment; the page is told, no reload.
    await page.locator('.order-status [data-status="paid"]').waitFor({ timeout: 20_000 });
    await shot(page, 'order');

    // The admin, in a browser profile of their own, ships it from the console.
    const adminPage = await stack.newPage(await stack.newContext(admin));
    await adminPage.setViewportSize({ width: 1200, height: 900 });
    await adminPage.goto('/admin');
    await adminPage.getByTestId('orders-last-minute').waitFor();
    await expect
      .poll(async () => Number(await adminPage.getByTestId('orders-last-minute').textContent()))
      .toBeGreaterThan(0);
    await shot(adminPage, 'admin-dashboard');
    await adminPage.goto(`/admin/orders/${orderId}`);
    await adminPage.getByRole('button', { name: 'Mark shipped' }).click();
    await adminPage.locator('.order-status [data-status="shipped"]').waitFor();

    await page.locator('.order-status [data-status="shipped"]').waitFor({ timeout: 10_000 });
    await expect.poll(() => page.getByTestId('unread-count').textContent(), { timeout: 10_000 }).toContain('2');
    expect(stack.pageErrors).toEqual([]);
  });

  it('shows a declined card as payment_failed, live, on the order page', async () => {
    const [customer] = await stack.users(1);
    const page = await stack.newPage(await stack.newContext(customer));
    await page.goto('/?q=notebook');
    await page.getByRole('link', { name: 'Cotton Notebook' }).click();
    await page.getByRole('button', { name: 'Add to cart' }).click();
    await page.getByText('Added to your cart.').waitFor();
    await page.goto('/cart');
    await page.getByLabel('Card token (sandbox)').fill('tok_chargeDeclined');
    await page.getByRole('button', { name: /Place order/ }).click();
    await page.waitForURL(/\/orders\//);
    await page.locator('.order-status [data-status="payment_failed"]').waitFor({ timeout: 20_000 });
    await page
      .getByRole('alert')
      .getByText(/The payment failed/)
      .waitFor();
  });
});
