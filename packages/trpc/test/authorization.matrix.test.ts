/**
 * The authorization matrix: every procedure of the router, with what anonymous callers, customer A,
 * customer B (acting on A's objects) and an admin get. A procedure missing here fails the first test,
 * so nothing new ships without deciding who may call it.
 */
import { hashPassword, hashToken, invalidateUserSessions } from '@keelson/auth';
import { Session, seed, User, uuidv7 } from '@keelson/db';
import { sql, testContext, useTestOrm } from '@keelson/testing';
import { appRouter, createCallerFactory } from '@keelson/trpc';
import { TRPCError } from '@trpc/server';
import { beforeAll, describe, expect, it } from 'vitest';

type Outcome = 'ok' | 'UNAUTHORIZED' | 'FORBIDDEN' | 'NOT_FOUND' | 'BAD_REQUEST';
type Role = 'anonymous' | 'customerA' | 'customerB' | 'admin';

interface Fixtures {
  a: { id: string; email: string; sessionId: string };
  b: { id: string };
  productId: string;
  /** Customer A's orders, put back in these states before every cell. */
  paidOrderId: string;
  shippedOrderId: string;
  /** A ready report, requested by the admin. */
  reportId: string;
  /** A notification of customer A's. */
  notificationId: string;
  /** A queued background job, new for every cell. */
  jobId: string;
  /** Customer A's support conversation and its first message, new for every cell. */
  conversationId: string;
  messageId: string;
  unique: () => string;
}

interface Row {
  input?: (f: Fixtures) => unknown;
  expect: Record<Role, Outcome>;
}

const PASSWORD = 'matrix passphrase 2026';
const everyone: Row['expect'] = { anonymous: 'ok', customerA: 'ok', customerB: 'ok', admin: 'ok' };
const signedIn: Row['expect'] = { anonymous: 'UNAUTHORIZED', customerA: 'ok', customerB: 'ok', admin: 'ok' };
const adminOnly: Row['expect'] = {
  anonymous: 'UNAUTHORIZED',
  customerA: 'FORBIDDEN',
  customerB: 'FORBIDDEN',
  admin: 'ok',
};
const ownerOnly: Row['expect'] = {
  anonymous: 'UNAUTHORIZED',
  customerA: 'ok',
  customerB: 'NOT_FOUND',
  admin: 'NOT_FOUND',
};
const badToken = 'x'.repeat(43);

const matrix: Record<string, Row> = {
  'auth.signUp': { input: (f) => ({ email: f.unique(), password: PASSWORD, name: 'New' }), expect: everyone },
  'auth.logIn': { input: (f) => ({ email: f.a.email, password: PASSWORD }), expect: everyone },
  'auth.logOut': { expect: everyone },
  'auth.me': { expect: everyone },
  'auth.signInOptions': { expect: everyone },
  'auth.sessions.list': { expect: signedIn },
  'auth.sessions.revoke': {
    input: (f) => ({ id: f.a.sessionId }),
    // Only the owner; anyone else is told there is no such session (no existence leak).
    expect: { anonymous: 'UNAUTHORIZED', customerA: 'ok', customerB: 'NOT_FOUND', admin: 'NOT_FOUND' },
  },
  'auth.sessions.revokeOthers': { expect: signedIn },
  'auth.verifyEmail': {
    input: () => ({ token: badToken }),
    expect: { anonymous: 'BAD_REQUEST', customerA: 'BAD_REQUEST', customerB: 'BAD_REQUEST', admin: 'BAD_REQUEST' },
  },
  'auth.resendVerification': { expect: signedIn },
  'auth.requestPasswordReset': { input: (f) => ({ email: f.a.email }), expect: everyone },
  'auth.resetPassword': {
    input: () => ({ token: badToken, password: PASSWORD }),
    expect: { anonymous: 'BAD_REQUEST', customerA: 'BAD_REQUEST', customerB: 'BAD_REQUEST', admin: 'BAD_REQUEST' },
  },
  'account.updateProfile': { input: () => ({ name: 'Renamed' }), expect: signedIn },
  'account.changePassword': {
    input: () => ({ currentPassword: PASSWORD, newPassword: 'another matrix passphrase' }),
    expect: signedIn,
  },
  'account.changeEmail': { input: (f) => ({ currentPassword: PASSWORD, newEmail: f.unique() }), expect: signedIn },
  'users.list': { input: () => ({}), expect: adminOnly },
  'users.get': { input: (f) => ({ id: f.a.id }), expect: adminOnly },
  'users.setRole': { input: (f) => ({ id: f.b.id, role: 'customer' }), expect: adminOnly },
  'users.disable': { input: (f) => ({ id: f.b.id }), expect: adminOnly },
  'users.enable': { input: (f) => ({ id: f.b.id }), expect: adminOnly },
  'users.revokeSessions': { input: (f) => ({ id: f.a.id }), expect: adminOnly },
  'catalog.list': { input: () => ({}), expect: everyone },
  'catalog.get': { input: (f) => ({ id: f.productId }), expect: everyone },
  'catalog.recordView': { input: (f) => ({ id: f.productId }), expect: everyone },
  'catalog.categories': { expect: everyone },
  // Subscriptions: the caller answers with the event stream (not iterated here) or the refusal.
  'catalog.onStockChange': { input: (f) => ({ productIds: [f.productId] }), expect: everyone },
  // Archived products are admin business, signed in or not.
  'catalog.list#includeArchived': {
    input: () => ({ includeArchived: true }),
    expect: { anonymous: 'FORBIDDEN', customerA: 'FORBIDDEN', customerB: 'FORBIDDEN', admin: 'ok' },
  },
  'catalog.create': {
    input: (f) => ({ slug: f.unique().replace(/[^a-z0-9]+/g, '-'), name: 'Matrix product', priceCents: 100 }),
    expect: adminOnly,
  },
  'catalog.update': { input: (f) => ({ id: f.productId, description: 'Edited by the matrix' }), expect: adminOnly },
  // `archived: false` keeps the shared fixture product listed for the other rows.
  'catalog.archive': { input: (f) => ({ id: f.productId, archived: false }), expect: adminOnly },
  'catalog.restock': { input: (f) => ({ productId: f.productId, delta: 1 }), expect: adminOnly },
  'catalog.getAny': { input: (f) => ({ id: f.productId }), expect: adminOnly },
  'catalog.stockAdjustments': { input: (f) => ({ productId: f.productId }), expect: adminOnly },
  // Every signed-in user (admins too) has a cart of their own with one line of the product.
  'cart.get': { expect: signedIn },
  'cart.addItem': { input: (f) => ({ productId: f.productId, quantity: 1 }), expect: signedIn },
  'cart.updateItem': { input: (f) => ({ productId: f.productId, quantity: 2 }), expect: signedIn },
  'cart.removeItem': { input: (f) => ({ productId: f.productId }), expect: signedIn },
  'cart.clear': { expect: signedIn },
  'orders.checkout': {
    input: () => ({ idempotencyKey: crypto.randomUUID(), paymentToken: 'tok_visa' }),
    expect: signedIn,
  },
  'orders.list': { input: () => ({}), expect: signedIn },
  'orders.onStatusChange': { input: () => ({}), expect: signedIn },
  // Another customer's order does not exist for them; admins may follow any order.
  'orders.onStatusChange#order': {
    input: (f) => ({ orderId: f.paidOrderId }),
    expect: { anonymous: 'UNAUTHORIZED', customerA: 'ok', customerB: 'NOT_FOUND', admin: 'ok' },
  },
  // Only the owner; anyone else, admins included, is told there is no such order (admins use getAny).
  'orders.get': { input: (f) => ({ id: f.paidOrderId }), expect: ownerOnly },
  'orders.cancel': { input: (f) => ({ id: f.paidOrderId }), expect: ownerOnly },
  'orders.listAll': { input: () => ({}), expect: adminOnly },
  'orders.getAny': { input: (f) => ({ id: f.paidOrderId }), expect: adminOnly },
  'orders.markShipped': { input: (f) => ({ id: f.paidOrderId }), expect: adminOnly },
  'orders.markDelivered': { input: (f) => ({ id: f.shippedOrderId }), expect: adminOnly },
  'orders.refund': { input: (f) => ({ id: f.paidOrderId }), expect: adminOnly },
  'notifications.list': { input: () => ({}), expect: signedIn },
  'notifications.markRead': { input: () => ({ all: true }), expect: signedIn },
  // Only the owner; anyone else, admins included, is told there is no such notification.
  'notifications.markRead#ids': { input: (f) => ({ ids: [f.notificationId] }), expect: ownerOnly },
  'notifications.onNew': { input: () => ({}), expect: signedIn },
  'chat.open': { input: () => ({ body: 'A question' }), expect: signedIn },
  // Asking about an order: only one's own (others' orders do not exist for them, admins included).
  'chat.open#order': { input: (f) => ({ orderId: f.paidOrderId, body: 'About my order' }), expect: ownerOnly },
  'chat.list': { input: () => ({}), expect: signedIn },
  'chat.inbox': { input: () => ({}), expect: adminOnly },
  'chat.onInbox': { input: () => ({}), expect: signedIn },
  // A's conversation: A and the staff; another customer is told there is no such conversation.
  ...Object.fromEntries(
    (
      [
        ['chat.get', (f: Fixtures) => ({ conversationId: f.conversationId })],
        ['chat.messages', (f: Fixtures) => ({ conversationId: f.conversationId })],
        ['chat.send', (f: Fixtures) => ({ conversationId: f.conversationId, body: 'Hello' })],
        ['chat.markRead', (f: Fixtures) => ({ conversationId: f.conversationId, upTo: f.messageId })],
        ['chat.close', (f: Fixtures) => ({ conversationId: f.conversationId })],
        ['chat.reopen', (f: Fixtures) => ({ conversationId: f.conversationId })],
        ['chat.typing', (f: Fixtures) => ({ conversationId: f.conversationId })],
        ['chat.onMessage', (f: Fixtures) => ({ conversationId: f.conversationId })],
        ['chat.onTyping', (f: Fixtures) => ({ conversationId: f.conversationId })],
      ] as const
    ).map(([path, input]) => [
      path,
      { input, expect: { anonymous: 'UNAUTHORIZED', customerA: 'ok', customerB: 'NOT_FOUND', admin: 'ok' } },
    ]),
  ),
  'chat.assign': { input: (f) => ({ conversationId: f.conversationId, toMe: true }), expect: adminOnly },
  'chat.hideMessage': { input: (f) => ({ messageId: f.messageId }), expect: adminOnly },
  'reports.requestSales': {
    input: () => ({ from: new Date('2026-01-01T00:00:00Z'), to: new Date('2026-01-02T00:00:00Z'), groupBy: 'day' }),
    expect: adminOnly,
  },
  'reports.list': { input: () => ({}), expect: adminOnly },
  'reports.get': { input: (f) => ({ id: f.reportId }), expect: adminOnly },
  // Anonymous visitors are tracked too (their IP is rate limited).
  'analytics.track': {
    input: (f) => ({ events: [{ name: 'product_viewed', productId: f.productId }] }),
    expect: everyone,
  },
  'analytics.summary': {
    input: () => ({ from: new Date('2026-01-01T00:00:00Z'), to: new Date('2026-01-02T00:00:00Z') }),
    expect: adminOnly,
  },
  // The live figures are the whole shop's: admins only (refused before any snapshot is read).
  'dashboard.live': { expect: adminOnly },
  'jobs.list': { input: () => ({ state: 'failed' }), expect: adminOnly },
  'jobs.counts': { expect: adminOnly },
  // A job the admin may retry and cancel; each cell gets a fresh one (see freshState).
  'jobs.retry': { input: (f) => ({ id: f.jobId }), expect: adminOnly },
  'jobs.cancel': { input: (f) => ({ id: f.jobId }), expect: adminOnly },
};

const createCaller = createCallerFactory(appRouter);
const procedures = Object.keys(appRouter._def.procedures).sort();

describe('authorization matrix', () => {
  const t = useTestOrm();
  const users = {} as Record<'a' | 'b' | 'admin', { id: string; email: string }>;
  let passwordHash: string;
  let productId: string;
  let reportId: string;
  let notificationId: string;
  let n = 0;

  beforeAll(async () => {
    passwordHash = await hashPassword(PASSWORD);
    await seed(t.orm.em.fork(), {});
    productId = (await sql<{ id: string }>(t.db.url, 'select id from product limit 1'))[0]!.id;
    const em = t.orm.em.fork();
    for (const [key, role] of [
      ['a', 'customer'],
      ['b', 'customer'],
      ['admin', 'admin'],
    ] as const) {
      const user = em.create(User, { email: `${key}@matrix.test`, name: key, role, passwordHash });
      users[key] = user;
    }
    await em.flush();
    reportId = uuidv7();
    await sql(
      t.db.url,
      `insert into report (id, kind, status, params, requested_by_id, row_count, byte_size, chunk_count, created_at, completed_at)
       values ($1, 'sales', 'ready', '{"from":"2026-01-01T00:00:00Z","to":"2026-01-02T00:00:00Z","groupBy":"day"}', $2, 0, 0, 0, now(), now())`,
      [reportId, users.admin.id],
    );
    notificationId = uuidv7();
    await sql(
      t.db.url,
      `insert into notification (id, user_id, kind, title, body, data, event_key, created_at)
       values ($1, $2, 'order_paid', 'Paid', 'Paid.', '{}', 'matrix', now())`,
      [notificationId, users.a.id],
    );
  });

  /** Puts the three accounts back as they were and gives each a fresh session. */
  async function freshState(): Promise<{ tokens: Record<'a' | 'b' | 'admin', string>; fixtures: Fixtures }> {
    const em = t.orm.em.fork();
    await sql(t.db.url, `delete from auth_throttle`);
    await sql(t.db.url, `update product set stock = 1000 where id = $1`, [productId]);
    await sql(t.db.url, `delete from cart_item`);
    await sql(
      t.db.url,
      `insert into cart_item (id, user_id, product_id, quantity, price_cents_seen, added_at, updated_at)
       select gen_random_uuid(), id, $1, 1, 100, now(), now() from app_user`,
      [productId],
    );
    const order = async (status: string) => {
      const id = uuidv7();
      await sql(
        t.db.url,
        `insert into store_order (id, user_id, status, currency, subtotal_cents, tax_rate_bps, tax_cents, total_cents, created_at, updated_at)
         values ($1, $2, $3, 'USD', 100, 0, 0, 100, now(), now())`,
        [id, users.a.id, status],
      );
      await sql(
        t.db.url,
        `insert into order_line (id, order_id, product_id, product_name, product_slug, unit_price_cents, quantity, line_total_cents)
         values (gen_random_uuid(), $1, $2, 'p', 'p', 100, 1, 100)`,
        [id, productId],
      );
      return id;
    };
    const paidOrderId = await order('paid');
    const shippedOrderId = await order('shipped');
    const [job] = await sql<{ id: string }>(
      t.db.url,
      `select id::text from graphile_worker.add_job('catalog__refresh_view_count', json_build_object('productId', $1::text), run_at => now() + interval '1 day')`,
      [productId],
    );
    const conversationId = uuidv7();
    const messageId = uuidv7();
    await sql(
      t.db.url,
      `insert into chat_conversation (id, customer_id, subject, status, created_at, last_message_at)
       values ($1, $2, 'Matrix', 'open', now(), now())`,
      [conversationId, users.a.id],
    );
    await sql(
      t.db.url,
      `insert into chat_message (id, conversation_id, author_id, author_role, body, created_at)
       values ($1, $2, $3, 'customer', 'Hi', now())`,
      [messageId, conversationId, users.a.id],
    );
    const tokens = {} as Record<'a' | 'b' | 'admin', string>;
    let aSessionId = '';
    for (const key of ['a', 'b', 'admin'] as const) {
      const role = key === 'admin' ? 'admin' : 'customer';
      await em.nativeUpdate(
        User,
        { id: users[key].id },
        { role, disabledAt: null, email: `${key}@matrix.test`, passwordHash },
      );
      await invalidateUserSessions(em, users[key].id);
      const token = `${key}-${++n}-${'t'.repeat(40)}`;
      const session = em.create(Session, {
        tokenHash: hashToken(token),
        user: users[key].id,
        expiresAt: new Date(Date.now() + 3_600_000),
        absoluteExpiresAt: new Date(Date.now() + 7_200_000),
      });
      await em.flush();
      tokens[key] = token;
      if (key === 'a') aSessionId = session.id;
    }
    return {
      tokens,
      fixtures: {
        a: { ...users.a, sessionId: aSessionId },
        b: users.b,
        productId,
        paidOrderId,
        shippedOrderId,
        reportId,
        notificationId,
        jobId: job!.id,
        conversationId,
        messageId,
        unique: () => `new-${++n}@matrix.test`,
      },
    };
  }

  // A row `path#variant` checks the same procedure with another input (a flag with its own rule).
  const pathOf = (row: string) => row.split('#')[0]!;

  it('lists every procedure of the router, and nothing else', () => {
    expect(procedures).toEqual([...new Set(Object.keys(matrix).map(pathOf))].sort());
  });

  const cells = Object.entries(matrix).flatMap(([path, row]) =>
    (Object.keys(row.expect) as Role[]).map((role) => [path, role, row.expect[role]] as const),
  );

  it.each(cells)('%s as %s: %s', async (path, role, expected) => {
    const { tokens, fixtures } = await freshState();
    const token =
      role === 'anonymous' ? undefined : tokens[role === 'customerA' ? 'a' : role === 'customerB' ? 'b' : 'admin'];
    const caller = createCaller(testContext(t.orm, token ? { token } : {}));
    const fn = pathOf(path)
      .split('.')
      .reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], caller) as (
      input?: unknown,
    ) => Promise<unknown>;
    const outcome = await fn(matrix[path]!.input?.(fixtures)).then(
      () => 'ok',
      (err: unknown) => (err instanceof TRPCError ? err.code : `unexpected ${String(err)}`),
    );
    expect(outcome).toBe(expected);
  });
});
