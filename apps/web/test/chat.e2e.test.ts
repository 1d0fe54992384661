/**
 * Support chat in a real Chromium against the real stack and a second API replica on the same
 * database: a customer asks about an order on replica A, the staff answers from replica B, live both
 * ways (typing, read receipts); reloads, a dropped connection and a restart of B leave the
 * conversation whole. Messages are text: markup shows as its characters, and bad text is refused
 * beside the field, in the browser and over the wire.
 */
import { freePort, needsTool, startTestApi, type TestApi, type TestUser } from '@keelson/testing';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startWebStack, type WebStack } from './stack.ts';

describe('support chat in Chromium, across two replicas', needsTool('chromium'), () => {
  let stack: WebStack;
  let replicaB: TestApi;
  let portB: number;
  let staff: TestUser;
  // Its own origin: the browser talks to it directly here (behind a load balancer both would share one).
  const startB = () =>
    startTestApi({
      db: stack.api.db,
      config: { PORT: String(portB), PUBLIC_URL: `http://127.0.0.1:${portB}`, CHAT_SEND_PER_MINUTE: '1000' },
    });

  beforeAll(async () => {
    stack = await startWebStack({ config: { CHAT_SEND_PER_MINUTE: '1000' } });
    portB = await freePort();
    replicaB = await startB();
    staff = (await stack.users(1, 'admin'))[0] as TestUser;
  }, 60_000);
  afterEach(() => stack.closeContexts());
  afterAll(async () => {
    await replicaB?.close();
    await stack?.close();
  });

  /** A browser profile signed in on replica B. */
  async function onB(user: TestUser): Promise<Page> {
    const context: BrowserContext = await stack.browser.newContext({ baseURL: replicaB.baseUrl });
    context.setDefaultTimeout(15_000);
    await context.addCookies([{ name: 'keelson_session', value: user.token, url: replicaB.baseUrl }]);
    const page = await context.newPage();
    page.on('pageerror', (err) => stack.pageErrors.push(err.message));
    return page;
  }

  async function placeOrder(user: TestUser) {
    const client = stack.api.newClient({ token: () => user.token });
    const product = await stack.product({ name: `Kettle ${Date.now()}`, priceCents: 3000, stock: 5 });
    await client.cart.addItem.mutate({ productId: product.id, quantity: 1 });
    return client.orders.checkout.mutate({ idempotencyKey: crypto.randomUUID(), paymentToken: 'tok_visa' });
  }

  const messages = (page: Page) => page.locator('.chat-messages .chat-body');

  it('a customer asks about an order on A and the staff on B answers live; reloads and a restart of B keep it whole', {
    timeout: 90_000,
  }, async () => {
    const [customer] = (await stack.users(1)) as [TestUser];
    const order = await placeOrder(customer);
    const shopper = await stack.newPage(await stack.newContext(customer));
    await shopper.goto(`/orders/${order.id}`);
    await shopper.getByLabel('Ask about this order').fill('Can it arrive before Friday?');
    await shopper.getByRole('button', { name: 'Send to support' }).click();
    await messages(shopper).getByText('Can it arrive before Friday?').waitFor();

    const desk = await onB(staff);
    await desk.goto('/admin/support');
    await desk.getByRole('link', { name: `Order ${order.id.slice(-8).toUpperCase()}` }).click();
    await messages(desk).getByText('Can it arrive before Friday?').waitFor();

    // The staff writes: the customer on A sees it being written, then the reply, without reloading.
    await desk.getByLabel('Message').fill('Yes: it ships tomorrow');
    await shopper.getByText(/is writing…/).waitFor();
    await desk.getByRole('button', { name: 'Send' }).click();
    await messages(shopper).getByText('Yes: it ships tomorrow').waitFor();
    // The customer's page read it: the staff sees the receipt live.
    await desk.getByText('· Seen').waitFor();

    // Reloads on both sides: the whole conversation, in order.
    await shopper.reload();
    await desk.reload();
    const expected = ['Can it arrive before Friday?', 'Yes: it ships tomorrow'];
    await expect.poll(() => messages(shopper).allTextContents()).toEqual(expected);
    await expect.poll(() => messages(desk).allTextContents()).toEqual(expected);

    // Replica B restarts (same port, as behind a load balancer); the customer writes meanwhile.
    await replicaB.close();
    await shopper.getByLabel('Message').fill('Thank you!');
    await shopper.getByRole('button', { name: 'Send' }).click();
    await messages(shopper).getByText('Thank you!').waitFor();
    replicaB = await startB();
    // The staff's page reconnects by itself and resumes: the message sent while B was down arrives.
    await messages(desk).getByText('Thank you!').waitFor({ timeout: 30_000 });
    await expect.poll(() => messages(desk).allTextContents()).toEqual([...expected, 'Thank you!']);
    expect(stack.pageErrors).toEqual([]);
  });

  it('shows markup as its characters, and refuses control characters and over-long messages beside the field', async () => {
    const [customer] = (await stack.users(1)) as [TestUser];
    const page = await stack.newPage(await stack.newContext(customer));
    const payload = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script> **bold**';
    await page.goto('/account/support');
    await page.getByLabel('Your question').fill(payload);
    await page.getByRole('button', { name: 'Send to support' }).click();
    await page.waitForURL(/\/account\/support\/[0-9a-f-]{36}$/);
    await messages(page).getByText(payload, { exact: true }).waitFor();
    expect(await page.locator('.chat-messages img, .chat-messages script').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as { __xss?: number }).__xss)).toBeUndefined();

    const composer = page.getByLabel('Message');
    for (const bad of ['ring the bell \u0007', 'x'.repeat(2001)]) {
      await composer.fill(bad);
      await page.getByRole('button', { name: 'Send' }).click();
      await page.locator('.chat-composer .issue').waitFor();
      await expect.poll(() => messages(page).count()).toBe(1);
    }
    // The field keeps what was typed, so it can be corrected; a good message then goes through.
    await composer.fill('Fixed, thanks');
    await page.getByRole('button', { name: 'Send' }).click();
    await messages(page).getByText('Fixed, thanks').waitFor();
    expect(await page.locator('.chat-composer .issue').count()).toBe(0);

    // Over the wire, as any client sends them: NUL, controls, blank and over-long, each BAD_REQUEST on `body`.
    const client = stack.api.newClient({ token: () => customer.token });
    const { items } = await client.chat.list.query({});
    for (const body of ['nul \u0000 here', 'escape \u001b[2J', ' \n ', 'y'.repeat(2001)]) {
      await expect(client.chat.send.mutate({ conversationId: items[0]!.id, body })).rejects.toMatchObject({
        data: { code: 'BAD_REQUEST', issues: expect.arrayContaining([expect.objectContaining({ path: ['body'] })]) },
      });
    }
    expect((await client.chat.messages.query({ conversationId: items[0]!.id })).items).toHaveLength(2);
    expect(stack.pageErrors).toEqual([]);
  });
});
