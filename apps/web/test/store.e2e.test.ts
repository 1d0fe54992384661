/**
 * The storefront in a real Chromium against the real stack: filters and sorts kept in the URL, infinite
 * scroll on the keyset cursor, live stock, a cart priced by the server, and checkout that makes one order
 * however often it is submitted, with refusals shown on the lines they concern.
 */
import { needsTool, sql, type TestUser } from '@keelson/testing';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startWebStack, type WebStack } from './stack.ts';

describe('the storefront in Chromium', needsTool('chromium'), () => {
  let stack: WebStack;
  let admin: TestUser;

  beforeAll(async () => {
    stack = await startWebStack();
    admin = (await stack.users(1, 'admin'))[0] as TestUser;
    // 30 lamps (more than one page of 24) and a few mugs, at known prices.
    for (let i = 0; i < 30; i++) {
      await stack.product({
        name: `Brass lamp ${String(i).padStart(2, '0')}`,
        priceCents: 1000 + i * 100,
        stock: 5,
        category: 'lighting',
      });
    }
    for (let i = 0; i < 3; i++)
      await stack.product({ name: `Oak mug ${i}`, priceCents: 900 + i, stock: 5, category: 'kitchen' });
  }, 60_000);
  afterEach(() => stack.closeContexts());
  afterAll(() => stack?.close());

  const names = (page: Page) => page.getByRole('list', { name: 'Products' }).getByRole('link').allTextContents();
  const adminClient = () => stack.api.newClient({ token: () => admin.token });

  it('filters by words, category and price, sorts, and keeps it all in the URL across a reload', async () => {
    const page = await stack.newPage();
    await page.goto('/');
    await page.getByLabel('Search').fill('bra lam');
    await page.getByLabel('Category').selectOption('lighting');
    await page.getByLabel('Min price').fill('12');
    await page.getByLabel('Max price').fill('14');
    await page.getByLabel('Sort').selectOption('price_desc');
    await page.getByRole('button', { name: 'Show' }).click();
    const expected = ['Brass lamp 04', 'Brass lamp 03', 'Brass lamp 02'];
    await expect.poll(() => names(page)).toEqual(expected);
    const url = new URL(page.url());
    expect(Object.fromEntries(url.searchParams)).toEqual({
      q: 'bra lam',
      category: 'lighting',
      minPrice: '12',
      maxPrice: '14',
      sort: 'price_desc',
    });
    await page.reload();
    await expect.poll(() => names(page)).toEqual(expected);
    expect(await page.getByLabel('Search').inputValue()).toBe('bra lam');
    // Nothing matches: said so.
    await page.goto('/?q=zzzz');
    await page.getByText('No products match.').waitFor();
    await page.context().close();
  });

  it('loads the next page on the keyset cursor as the list scrolls, each product once', async () => {
    const page = await stack.newPage();
    await page.goto('/?category=lighting&sort=name');
    await expect.poll(async () => (await names(page)).length).toBe(24);
    await page.getByRole('button', { name: 'Load more' }).scrollIntoViewIfNeeded();
    await expect.poll(async () => (await names(page)).length).toBe(30);
    const all = await names(page);
    expect(new Set(all).size).toBe(30);
    expect(all).toEqual([...all].sort());
    await expect.poll(() => page.getByRole('button', { name: 'Load more' }).count()).toBe(0);
    await page.context().close();
  });

  it('loads product images from https: hosts under the CSP, and hides one that does not load', async () => {
    const product = await adminClient().catalog.create.mutate({
      slug: 'pictured-vase',
      name: 'Pictured vase',
      priceCents: 2100,
      stock: 2,
      imageUrls: ['https://images.keelson.invalid/vase.jpg'],
    });
    const errors = stack.pageErrors.length;
    const page = await stack.newPage();
    await page.goto(`/products/${product.slug}`);
    await page.getByRole('heading', { name: 'Pictured vase' }).waitFor();
    await expect.poll(() => page.locator('img[hidden]').count(), { timeout: 15_000 }).toBe(1);
    // Allowed by the policy (no violation), just unreachable.
    expect(stack.pageErrors.slice(errors).filter((e) => e.includes('Content Security Policy'))).toEqual([]);
  });

  it("shows a product's stock live as an admin restocks it", async () => {
    const product = await stack.product({ name: 'Copper kettle', priceCents: 4500, stock: 2 });
    const page = await stack.newPage();
    await page.goto(`/products/${product.slug}`);
    await page.getByText('In stock: 2').waitFor();
    await page.getByText('Live stock').waitFor();
    await adminClient().catalog.restock.mutate({ productId: product.id, delta: 5 });
    await page.getByText('In stock: 7').waitFor({ timeout: 10_000 });
    await adminClient().catalog.restock.mutate({ productId: product.id, delta: -7 });
    await page.getByText('Out of stock').first().waitFor({ timeout: 10_000 });
    await page.context().close();
  });

  /** A signed-in customer with these products in the cart, on the cart page. */
  async function cartWith(products: { id: string; slug: string }[]) {
    const [customer] = await stack.users(1);
    const context = await stack.newContext(customer);
    const page = await stack.newPage(context);
    for (const p of products) {
      await page.goto(`/products/${p.slug}`);
      await page.getByRole('button', { name: 'Add to cart' }).click();
      await page.getByText('Added to your cart.').waitFor();
    }
    await page.getByRole('link', { name: /^Cart/ }).click();
    await page.getByRole('heading', { name: 'Your cart' }).waitFor();
    return { customer: customer!, page };
  }

  it('prices the cart on the server, and a double-submitted checkout makes one order', async () => {
    const a = await stack.product({ name: 'Walnut board', priceCents: 2500, stock: 5 });
    const b = await stack.product({ name: 'Linen towel', priceCents: 1250, stock: 5 });
    const { customer, page } = await cartWith([a, b]);
    await expect.poll(() => page.getByTestId('cart-total').textContent()).toContain('37.50');
    expect(await page.getByTestId('cart-count').textContent()).toContain('2');
    const place = page.getByRole('button', { name: /Place order/ });
    await place.dblclick();
    await page.waitForURL(/\/orders\/[0-9a-f-]{36}$/);
    const orders = await sql<{ id: string }>(stack.api.db.url, 'select id from store_order where user_id = $1', [
      customer.id,
    ]);
    expect(orders).toHaveLength(1);
    expect(page.url()).toContain(orders[0]?.id);
    expect(stack.pageErrors).toEqual([]);
    await page.context().close();
  });

  it('records what shoppers do as analytics events, sent in batches', async () => {
    const a = await stack.product({ name: 'Wool scarf', priceCents: 3500, stock: 5 });
    const tracks: string[] = [];
    const { customer, page } = await cartWith([a]);
    page.on('request', (r) => {
      if (r.url().includes('analytics.track')) tracks.push(r.url());
    });
    await page.getByRole('button', { name: /Place order/ }).click();
    await page.waitForURL(/\/orders\//);
    // A tab being hidden sends what is queued at once (the state changes first, as in a browser).
    await page.evaluate(
      "Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true }); document.dispatchEvent(new Event('visibilitychange'))",
    );
    await expect
      .poll(
        async () =>
          (
            await sql<{ name: string }>(
              stack.api.db.url,
              'select name from analytics_event where user_id = $1 order by id',
              [customer.id],
            )
          ).map((r) => r.name),
        { timeout: 10_000 },
      )
      .toEqual(expect.arrayContaining(['product_viewed', 'add_to_cart', 'checkout_started', 'checkout_completed']));
    // Batched: fewer calls than events.
    expect(tracks.length).toBeLessThan(4);
    await page.context().close();
  });

  it('shows OUT_OF_STOCK on the line whose product ran out between cart and checkout', async () => {
    const a = await stack.product({ name: 'Steel bottle', priceCents: 1800, stock: 3 });
    const b = await stack.product({ name: 'Glass jar', priceCents: 700, stock: 3 });
    const { customer, page } = await cartWith([a, b]);
    await adminClient().catalog.restock.mutate({ productId: b.id, delta: -3 });
    await page.getByRole('button', { name: /Place order/ }).click();
    const line = page.getByRole('listitem', { name: 'Glass jar' });
    await line
      .getByText(/OUT_OF_STOCK|Only 0 in stock/)
      .first()
      .waitFor();
    expect(await page.getByRole('listitem', { name: 'Steel bottle' }).getByRole('alert').count()).toBe(0);
    const orders = await sql(stack.api.db.url, 'select 1 from store_order where user_id = $1', [customer.id]);
    expect(orders).toHaveLength(0);
    await page.context().close();
  });

  it('shows PRICE_CHANGED on the line whose price moved, and checks out once it is accepted', async () => {
    const a = await stack.product({ name: 'Bamboo tray', priceCents: 3000, stock: 3 });
    const { customer, page } = await cartWith([a]);
    await adminClient().catalog.update.mutate({ id: a.id, priceCents: 3300 });
    await page.getByRole('button', { name: /Place order/ }).click();
    const line = page.getByRole('listitem', { name: 'Bamboo tray' });
    await line
      .getByText(/PRICE_CHANGED|Price changed/)
      .first()
      .waitFor();
    expect(await sql(stack.api.db.url, 'select 1 from store_order where user_id = $1', [customer.id])).toHaveLength(0);
    await line.getByRole('button', { name: 'Accept the new price' }).click();
    await expect.poll(() => page.getByTestId('cart-total').textContent()).toContain('33.00');
    await page.getByRole('button', { name: /Place order/ }).click();
    await page.waitForURL(/\/orders\//);
    await page.context().close();
  });

  it('keeps an added item when the header’s earlier cart read answers after the add', async () => {
    // The page load's cart.get (the header's count) answered after the add used to overwrite the
    // added cart with the empty one: the cart page then said "Your cart is empty".
    const a = await stack.product({ name: 'Slow cart mug', priceCents: 700, stock: 3 });
    const [customer] = await stack.users(1);
    const context = await stack.newContext(customer);
    const page = await stack.newPage(context);
    let held = false;
    let release: () => void = () => {};
    const released = new Promise<void>((r) => (release = r));
    await page.route(/\/trpc\/[^?]*cart\.get/, async (route) => {
      if (held) return route.continue();
      held = true;
      // Fetched now (the empty cart), answered once the add has been answered.
      const response = await route.fetch();
      await released;
      await route.fulfill({ response });
    });
    await page.goto(`/products/${a.slug}`);
    await page.getByRole('button', { name: 'Add to cart' }).click();
    await page.getByText('Added to your cart.').waitFor();
    expect(held).toBe(true);
    release();
    await page.getByRole('link', { name: /^Cart/ }).click();
    await page.getByRole('heading', { name: 'Your cart' }).waitFor();
    await page.getByLabel('Card token (sandbox)').waitFor({ timeout: 5_000 });
    expect(await page.getByRole('list', { name: 'Cart lines' }).textContent()).toContain('Slow cart mug');
    await page.context().close();
  });

  it('shows a refused field beside it, and sends a signed-out buyer to sign in and back', async () => {
    const a = await stack.product({ name: 'Cotton bag', priceCents: 500, stock: 3 });
    const { page } = await cartWith([a]);
    await page.getByLabel('Card token (sandbox)').fill('tok visa\u0007');
    await page.getByRole('button', { name: /Place order/ }).click();
    await page.locator('.field .issue').first().waitFor();
    await page.context().close();

    const anonymous = await stack.newPage();
    await anonymous.goto(`/products/${a.slug}`);
    await anonymous.getByRole('button', { name: 'Sign in to buy' }).click();
    await anonymous.waitForURL(/\/sign-in\?returnTo=/);
    expect(new URL(anonymous.url()).searchParams.get('returnTo')).toBe(`/products/${a.slug}`);
    await anonymous.context().close();
  });
});
