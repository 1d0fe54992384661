/**
 * `pnpm start` as a new user runs it: no DATABASE_URL, so the embedded PostgreSQL starts, the schema is
 * migrated and seeded, and the API and worker come up as two processes; SIGTERM stops everything.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { closeClient, createClient } from '@keelson/client';
import { stackEnv, startProcess } from '@keelson/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

describe('pnpm start (embedded default)', () => {
  let dir: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'keelson-start-'));
    env = await stackEnv(dir);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('starts API and worker on a fresh embedded database, answers catalog.list, and stops cleanly', async () => {
    await using stack = startProcess('apps/dev/src/start.ts', env);
    const [, url] = (await stack.waitFor(/API ready: (\S+)/, 60_000)) as [string, string];
    expect(stack.output()).toMatch(
      /Created admin admin@keelson\.local with password: \S+ {2}\(shown once; lost it\? pnpm db:admin:reset-password\)/,
    );
    expect(stack.output()).toContain('Created 60 demo products.');
    // The web app, on the same origin.
    const [, store] = (await stack.waitFor(/Store: (\S+)/, 5_000)) as [string, string];
    const home = await fetch(store);
    expect(home.status).toBe(200);
    const html = await home.text();
    expect(html).toContain('<div id="root"></div>');
    expect(html).toMatch(/src="\/assets\/index-[\w-]+\.js"/);

    const client = createClient({ url });
    const page = await client.catalog.list.query({ limit: 100 });
    expect(page.items).toHaveLength(60);
    await closeClient(client);

    // The README's walkthrough: sign up, log in, cart, checkout with a test token, the worker takes the payment.
    // No URL argument: it finds the API by HOST and PORT, as `pnpm start` does.
    await using demo = startProcess('apps/dev/src/walkthrough.ts', env);
    await demo.waitFor(/unread notification\(s\)\./, 45_000);
    expect(demo.output()).toMatch(/Cart: 2 × .+ Mug, subtotal [\d.]+ USD, tax 0\.00 USD/);
    // Pushed by the subscription (over WebSocket), then read back from the order's history.
    expect(demo.output()).toMatch(/pushed: pending_payment → paid/);
    expect(demo.output()).toMatch(/pending_payment → paid \(system\)/);
    expect(demo.output()).toMatch(/Order \S+ is paid\./);
    expect(demo.output()).toMatch(/inbox: Order \S+ is paid/);
    // It exits by itself, with 0 only if the push arrived.
    if (demo.child.exitCode === null) await new Promise((resolve) => demo.child.once('exit', resolve));
    expect(demo.child.exitCode).toBe(0);

    const { code, ms } = await stack.stop('SIGTERM');
    expect(code).toBe(0);
    expect(ms).toBeLessThan(10_000);
  }, 120_000);

  it('keeps the data between runs, seeds nothing twice, and survives a terminal Ctrl-C', async () => {
    await using stack = startProcess('apps/dev/src/start.ts', env, { detached: true });
    const [, url] = (await stack.waitFor(/API ready: (\S+)/, 60_000)) as [string, string];
    expect(stack.output()).not.toContain('Created');

    // A lost first-run admin password: a new one from the command line, beside the running stack.
    await using reset = startProcess('apps/dev/src/cli.ts', env, { args: ['admin:reset-password'] });
    const [, password] = (await reset.waitFor(/New password for admin@keelson\.local \(admin\): (\S+)/)) as [
      string,
      string,
    ];
    expect((await reset.exited).code).toBe(0);
    const client = createClient({ url });
    const { user } = await client.auth.logIn.mutate({ email: 'admin@keelson.local', password });
    expect(user.role).toBe('admin');
    await closeClient(client);
    await using unknown = startProcess('apps/dev/src/cli.ts', env, {
      args: ['admin:reset-password', 'nobody@example.com'],
    });
    expect((await unknown.exited).code).toBe(1);
    expect(unknown.output().trim().split('\n').at(-1)).toBe('No account has the address nobody@example.com.');
    // Ctrl-C signals the whole foreground process group; the stack must still stop in order.
    const { code } = await stack.stop('SIGINT', { group: true });
    expect(code).toBe(0);
    expect(stack.output()).not.toMatch(/second signal|terminating connection|Unhandled/);
  });
});
