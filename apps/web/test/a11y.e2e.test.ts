/**
 * Every page of the web app, as a visitor, a customer and an admin see it, checked with axe-core in a
 * real Chromium: no serious or critical violation (labels, names, contrast, landmarks, ARIA). Also: the
 * keyboard reaches the main links and the focus is visible.
 */
import { needsTool, type TestUser } from '@keelson/testing';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { axeViolations, startWebStack, type WebStack } from './stack.ts';

describe('accessibility of every page (axe-core)', needsTool('chromium'), () => {
  let stack: WebStack;
  let admin: TestUser;
  let customer: TestUser;
  let product: { id: string; slug: string };
  let orderId: string;
  let conversationId: string;

  beforeAll(async () => {
    stack = await startWebStack();
    admin = (await stack.users(1, 'admin'))[0] as TestUser;
    customer = (await stack.users(1))[0] as TestUser;
    product = await stack.product({ name: 'Oak Desk Lamp', priceCents: 4900, stock: 5, category: 'lighting' });
    await stack.product({ name: 'Linen Throw', priceCents: 7900, stock: 0, category: 'textiles' });
    const client = stack.api.newClient({ token: () => customer.token });
    await client.cart.addItem.mutate({ productId: product.id, quantity: 1 });
    orderId = (await client.orders.checkout.mutate({ idempotencyKey: crypto.randomUUID(), paymentToken: 'tok_visa' }))
      .id;
    await client.cart.addItem.mutate({ productId: product.id, quantity: 2 });
    conversationId = (await client.chat.open.mutate({ body: 'A question about my order', orderId })).id;
    await stack.api.newClient({ token: () => admin.token }).reports.requestSales.mutate({
      from: new Date(Date.now() - 86_400_000),
      to: new Date(Date.now() + 86_400_000),
      groupBy: 'day',
    });
  }, 60_000);
  afterAll(() => stack?.close());

  /** Opens `path` and waits until the page has drawn its data (no loading line left). */
  async function open(page: Page, path: string) {
    await page.goto(path);
    await page.getByRole('heading', { level: 1 }).first().waitFor();
    await expect.poll(() => page.getByRole('status').filter({ hasText: /…$/ }).count(), { timeout: 10_000 }).toBe(0);
  }

  async function check(user: TestUser | undefined, paths: string[]) {
    const page = await stack.newPage(await stack.newContext(user));
    const found: Record<string, string[]> = {};
    for (const path of paths) {
      await open(page, path);
      const violations = await axeViolations(page);
      if (violations.length) found[path] = violations;
    }
    await page.context().close();
    return found;
  }

  it('finds nothing serious on the pages a visitor sees', async () => {
    const paths = ['/', `/products/${product.slug}`, '/sign-in', '/sign-in?error=OIDC_REJECTED', '/sign-up'];
    expect(
      await check(undefined, [...paths, '/forgot-password', '/verify-email', '/reset-password', '/nowhere']),
    ).toEqual({});
  });

  it("finds nothing serious on a customer's pages", async () => {
    const paths = ['/cart', '/account', '/account/sessions', '/orders', `/orders/${orderId}`, '/account/notifications'];
    const support = ['/account/support', `/account/support/${conversationId}`];
    expect(await check(customer, [...paths, ...support, '/admin'])).toEqual({});
  });

  it("finds nothing serious on the admin console's pages", async () => {
    const paths = ['/admin', '/admin/products', '/admin/products/new', `/admin/products/${product.id}`];
    expect(
      await check(admin, [
        ...paths,
        '/admin/orders',
        `/admin/orders/${orderId}`,
        '/admin/users',
        '/admin/reports',
        '/admin/jobs',
        '/admin/support',
        `/admin/support/${conversationId}`,
      ]),
    ).toEqual({});
  });

  it('reaches the main links with the keyboard, with a visible focus', async () => {
    const page = await stack.newPage(await stack.newContext(customer));
    await open(page, '/');
    await page.keyboard.press('Tab');
    expect(await page.locator(':focus').textContent()).toBe('Skip to content');
    await page.keyboard.press('Tab');
    expect(await page.locator(':focus').textContent()).toBe('Keelson Store');
    // The page's own code runs there (a string: the tests' types have no DOM).
    expect(await page.evaluate('getComputedStyle(document.activeElement).outlineStyle')).not.toBe('none');
    await page.context().close();
  });
});
