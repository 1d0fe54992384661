/**
 * The admin console in a real Chromium against the real stack: products (create, restock, ledger), an
 * order shipped, a failed job retried from the jobs console until it succeeds, a report requested,
 * watched and downloaded, the live dashboard moving with an order; and a customer at `/admin` refused by
 * the server, not only by a hidden link.
 */
import { readFile } from 'node:fs/promises';
import { needsTool, sql, type TestUser } from '@keelson/testing';
import type { BrowserContext } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startWebStack, type WebStack } from './stack.ts';

describe('the admin console in Chromium', needsTool('chromium'), () => {
  let stack: WebStack;
  let admin: TestUser;
  let adminContext: BrowserContext;
  beforeAll(async () => {
    // One transient failure per sandbox payment that asks for one (tok_processingError); ticks every 500 ms.
    stack = await startWebStack({
      config: { PAYMENT_SANDBOX_TRANSIENT_FAILURES: '1', DASHBOARD_INTERVAL_MS: '500' },
    });
    admin = (await stack.users(1, 'admin'))[0] as TestUser;
  }, 60_000);
  afterEach(() => stack.closeContexts());
  afterAll(() => stack?.close());

  const adminPage = async () => {
    adminContext = await stack.newContext(admin);
    return stack.newPage(adminContext);
  };

  /** An order placed through the API by a new customer. */
  async function placeOrder(paymentToken = 'tok_visa') {
    const [customer] = await stack.users(1);
    const client = stack.api.newClient({ token: () => customer!.token });
    const product = await stack.product({ name: `Vase ${Date.now()}`, priceCents: 3000, stock: 5 });
    await client.cart.addItem.mutate({ productId: product.id, quantity: 1 });
    const order = await client.orders.checkout.mutate({ idempotencyKey: crypto.randomUUID(), paymentToken });
    return { customer: customer!, client, order };
  }

  it('creates a product that the storefront then shows; a restock changes the stock and the ledger', async () => {
    const page = await adminPage();
    await page.goto('/admin/products/new');
    await page.getByLabel('Name').fill('Ceramic teapot');
    await page.getByLabel('Slug').fill('Not A Slug');
    await page.getByLabel('Price').fill('42.50');
    await page.getByLabel('Initial stock').fill('3');
    await page.getByRole('button', { name: 'Create the product' }).click();
    // The API's field issue beside the field, and nothing created.
    await page.locator('.field:has(input[value="Not A Slug"]) .issue').waitFor();
    await page.getByLabel('Slug').fill('ceramic-teapot');
    await page.getByRole('button', { name: 'Create the product' }).click();
    await page.waitForURL(/\/admin\/products\/[0-9a-f-]{36}$/);
    await expect.poll(() => page.getByTestId('admin-stock').textContent()).toBe('3');

    const shopper = await stack.newPage();
    await shopper.goto('/?q=ceramic');
    await shopper.getByRole('link', { name: 'Ceramic teapot' }).waitFor();

    await page.getByLabel('Units to add (negative to correct)').fill('7');
    await page.getByRole('button', { name: 'Restock' }).click();
    await expect.poll(() => page.getByTestId('admin-stock').textContent()).toBe('10');
    const ledger = page.getByRole('table', { name: /Stock ledger/ });
    await expect.poll(() => ledger.getByRole('row').count()).toBe(3); // header, restock, initial
    expect(await ledger.getByRole('row').nth(1).textContent()).toContain('+7');

    await page.getByRole('button', { name: 'Archive' }).click();
    await page.getByRole('button', { name: 'Restore to the catalogue' }).waitFor();
    await page.reload();
    await page.getByText('archived', { exact: true }).waitFor();
  });

  it('ships a paid order', async () => {
    const { order } = await placeOrder();
    const page = await adminPage();
    await page.goto(`/admin/orders/${order.id}`);
    await page.locator('.order-status [data-status="paid"]').waitFor({ timeout: 15_000 });
    await page.getByLabel('Note (kept in the history)').fill('Sent with DHL');
    await page.getByRole('button', { name: 'Mark shipped' }).click();
    await page.locator('.order-status [data-status="shipped"]').waitFor();
    await page.getByText('Sent with DHL').waitFor();
    await page.goto('/admin/orders?status=shipped');
    await page.getByRole('link', { name: `#${order.id.slice(-8)}` }).waitFor();
  });

  it('retries from the jobs console a job that failed for good, and it then succeeds', async () => {
    const { client, order } = await placeOrder('tok_processingError');
    // Its first attempt fails (the sandbox's transient error); it is then made to have used up its attempts.
    const [job] = await (async () => {
      for (let i = 0; i < 100; i++) {
        const rows = await sql<{ id: string }>(
          stack.api.db.url,
          `select id::text from graphile_worker._private_jobs
           where task_id = (select id from graphile_worker._private_tasks where identifier = 'payment__capture')
             and attempts >= 1 and last_error is not null`,
        );
        if (rows.length) return rows;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('the payment never failed');
    })();
    await sql(stack.api.db.url, 'update graphile_worker._private_jobs set attempts = max_attempts where id = $1', [
      job!.id,
    ]);

    const page = await adminPage();
    await page.goto('/admin/jobs?state=failed');
    const row = page.locator(`tr[data-job-id="${job!.id}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain('payment__capture');
    expect(await row.textContent()).toContain('10 / 10');
    expect(await row.locator('.job-error').textContent()).toMatch(/\w/);
    await row.getByRole('button', { name: /^Retry/ }).click();
    // It runs again at once and the payment goes through.
    await expect
      .poll(async () => (await client.orders.get.query({ id: order.id })).status, { timeout: 15_000 })
      .toBe('paid');
    await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(0);
  });

  it('requests a report, shows it becoming ready, and downloads the CSV', async () => {
    await placeOrder();
    const page = await adminPage();
    await page.goto('/admin/reports');
    await page.getByRole('button', { name: 'Request the report' }).click();
    const download = page.getByRole('link', { name: /^Download/ }).first();
    await download.waitFor({ timeout: 20_000 });
    const [file] = await Promise.all([page.waitForEvent('download'), download.click()]);
    const csv = await readFile((await file.path()) as string, 'utf8');
    expect(csv.split(/\r?\n/)[0]).toMatch(/^[a-z_]+(,[a-z_]+)+$/);
    expect(await page.locator('td[data-status="ready"]').count()).toBe(1);
  });

  it('draws the live dashboard, whose figures move when an order is placed', async () => {
    const page = await adminPage();
    await page.goto('/admin');
    const figure = page.getByTestId('orders-last-minute');
    await figure.waitFor();
    const before = Number(await figure.textContent());
    await placeOrder();
    await expect.poll(async () => Number(await figure.textContent()), { timeout: 10_000 }).toBe(before + 1);
    expect(await page.locator('svg.chart').count()).toBeGreaterThanOrEqual(3);
    await page.getByRole('table', { name: 'Events' }).waitFor();
  });

  it("disables a user from the console (the user's open page signs out), enables them again and changes their role", async () => {
    const [customer] = await stack.users(1);
    const shopper = await stack.newPage(await stack.newContext(customer));
    await shopper.goto('/account');
    await shopper.getByRole('heading', { name: 'Your account' }).waitFor();
    const page = await adminPage();
    await page.goto('/admin/users');
    await page.getByLabel('Search users').fill(customer!.email);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('button', { name: `Disable ${customer!.email}` }).click();
    await page.getByRole('button', { name: `Enable ${customer!.email}` }).waitFor();
    // Its sessions ended with the disabling: the live badge's subscription ends and the page goes to sign in.
    await shopper.waitForURL(/\/sign-in\?returnTo=/, { timeout: 10_000 });
    await page.getByRole('button', { name: `Enable ${customer!.email}` }).click();
    await page.getByRole('button', { name: `Disable ${customer!.email}` }).waitFor();
    await page.getByLabel(`Role of ${customer!.email}`).selectOption('admin');
    await expect
      .poll(
        async () =>
          (await stack.api.newClient({ token: () => admin.token }).users.get.query({ id: customer!.id })).role,
      )
      .toBe('admin');
  });

  it("shows a customer at /admin no data: the page says so, and the server refuses the customer's own calls", async () => {
    const [customer] = await stack.users(1);
    const page = await stack.newPage(await stack.newContext(customer));
    await page.goto('/admin/users');
    await page.getByRole('heading', { name: 'Not available' }).waitFor();
    expect(await page.getByRole('link', { name: 'Admin' }).count()).toBe(0);
    // The same browser, its cookie, the admin procedures and the CSV URL called directly.
    const answers = await page.evaluate(async () => {
      const users = await fetch('/trpc/users.list?input=%7B%22json%22%3A%7B%7D%7D');
      const jobs = await fetch('/trpc/jobs.list?input=%7B%22json%22%3A%7B%22state%22%3A%22failed%22%7D%7D');
      const csv = await fetch(`/reports/${crypto.randomUUID()}.csv`);
      return {
        users: users.status,
        code: ((await users.json()) as { error: { json: { data: { code: string } } } }).error.json.data.code,
        jobs: jobs.status,
        csv: csv.status,
      };
    });
    expect(answers).toEqual({ users: 403, code: 'FORBIDDEN', jobs: 403, csv: 403 });
  });
});
