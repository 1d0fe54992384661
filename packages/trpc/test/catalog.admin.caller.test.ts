import { hashToken } from '@keelson/auth';
import { CATALOG_CHANNEL } from '@keelson/catalog';
import { CartItem, Session, seed, User } from '@keelson/db';
import { eventually, sql, testContext, useTestOrm } from '@keelson/testing';
import { appRouter, createCallerFactory } from '@keelson/trpc';
import { TRPCError } from '@trpc/server';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const createCaller = createCallerFactory(appRouter);
type Caller = ReturnType<typeof createCaller>;

/** Everything a failed call must leave untouched. */
const SNAPSHOT = `select
  (select json_agg(p order by id) from (select id, slug, name, description, category, image_urls, price_cents, stock, archived_at, updated_at from product) p) products,
  (select count(*) from stock_adjustment) adjustments`;

function issuePaths(err: unknown): string[] {
  const issues = ((err as TRPCError).cause as unknown as { issues: { path: (string | number)[] }[] }).issues;
  return issues.map((i) => i.path.join('.'));
}

describe('catalogue administration (createCaller)', () => {
  const t = useTestOrm();
  let admin: Caller;
  let customer: Caller;
  let anonymous: Caller;
  let adminId: string;
  let customerId: string;
  let listener: pg.Client;
  const notified: string[] = [];

  beforeAll(async () => {
    await seed(t.orm.em.fork(), {});
    const em = t.orm.em.fork();
    const tokens: string[] = [];
    for (const role of ['admin', 'customer'] as const) {
      const user = em.create(User, { email: `${role}@catalog.test`, name: role, role, passwordHash: 'unused' });
      const token = `${role}-${'t'.repeat(40)}`;
      em.create(Session, {
        tokenHash: hashToken(token),
        user,
        expiresAt: new Date(Date.now() + 3_600_000),
        absoluteExpiresAt: new Date(Date.now() + 7_200_000),
      });
      tokens.push(token);
      if (role === 'admin') adminId = user.id;
      else customerId = user.id;
    }
    await em.flush();
    admin = createCaller(testContext(t.orm, { token: tokens[0]! }));
    customer = createCaller(testContext(t.orm, { token: tokens[1]! }));
    anonymous = createCaller(testContext(t.orm));
    listener = new pg.Client({ connectionString: t.db.url });
    await listener.connect();
    listener.on('notification', (n) => notified.push(n.payload ?? ''));
    await listener.query(`listen ${CATALOG_CHANNEL}`);
  });
  afterAll(() => listener.end());

  /** `stock + units in live orders = sum(stock_adjustment.delta)` for every product (no orders here). */
  async function expectLedgerBalanced() {
    const off = await sql(
      t.db.url,
      `select p.id, p.stock, coalesce(sum(a.delta), 0)::int as ledger from product p
       left join stock_adjustment a on a.product_id = p.id group by p.id having p.stock <> coalesce(sum(a.delta), 0)`,
    );
    expect(off).toEqual([]);
  }

  async function expectUnchanged(fn: () => Promise<unknown>, check: (err: unknown) => void) {
    const before = await sql(t.db.url, SNAPSHOT);
    const err = await fn().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TRPCError);
    check(err);
    expect(await sql(t.db.url, SNAPSHOT)).toEqual(before);
  }

  describe('create', () => {
    it('creates a listed product with its initial stock in the ledger, and announces it', async () => {
      notified.length = 0;
      const product = await admin.catalog.create({
        slug: 'teak-tray',
        name: '  Teak Tray ',
        description: 'A tray.',
        category: 'kitchen',
        imageUrls: ['https://images.keelson.local/teak-tray.jpg'],
        priceCents: 4_500,
        stock: 12,
      });
      expect(product).toMatchObject({
        slug: 'teak-tray',
        name: 'Teak Tray',
        category: 'kitchen',
        imageUrls: ['https://images.keelson.local/teak-tray.jpg'],
        priceCents: 4_500,
        currency: 'USD',
        stock: 12,
        archivedAt: null,
      });
      expect(await anonymous.catalog.get({ slug: 'teak-tray' })).toEqual(product);
      const ledger = await sql(
        t.db.url,
        'select delta, reason, actor_user_id from stock_adjustment where product_id = $1',
        [product.id],
      );
      expect(ledger).toEqual([{ delta: 12, reason: 'initial', actor_user_id: adminId }]);
      await eventually(async () => notified.includes(product.id));
      await expectLedgerBalanced();
    });

    it('defaults description, category, images and stock (no ledger row for zero stock)', async () => {
      const product = await admin.catalog.create({ slug: 'plain-thing', name: 'Plain Thing', priceCents: 0 });
      expect(product).toMatchObject({ description: '', category: 'general', imageUrls: [], stock: 0 });
      expect(await sql(t.db.url, 'select 1 from stock_adjustment where product_id = $1', [product.id])).toEqual([]);
    });

    it('answers SLUG_TAKEN for a slug in use, archived products included, and changes nothing', async () => {
      await expectUnchanged(
        () => admin.catalog.create({ slug: 'oak-mug', name: 'Another Mug', priceCents: 100, stock: 5 }),
        (err) =>
          expect(err).toMatchObject({ code: 'CONFLICT', cause: { code: 'SLUG_TAKEN', details: { slug: 'oak-mug' } } }),
      );
    });

    it('lets exactly one of two concurrent creates with one slug win (the unique index decides)', async () => {
      const results = await Promise.allSettled(
        [1, 2, 3].map((i) =>
          admin.catalog.create({ slug: 'race-slug', name: `Racer ${i}`, priceCents: 100, stock: i }),
        ),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results.filter((r) => r.status === 'rejected')) {
        expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'CONFLICT', cause: { code: 'SLUG_TAKEN' } });
      }
      await expectLedgerBalanced();
    });

    const valid = { slug: 'valid-slug', name: 'Valid', priceCents: 100 };
    it.each([
      [{ ...valid, slug: 'Upper-Case' }, 'slug'],
      [{ ...valid, slug: '-leading' }, 'slug'],
      [{ ...valid, slug: 'double--hyphen' }, 'slug'],
      [{ ...valid, slug: 'a'.repeat(121) }, 'slug'],
      [{ ...valid, name: '   ' }, 'name'],
      [{ ...valid, name: 'nul\0byte' }, 'name'],
      [{ ...valid, description: 'nul\0byte' }, 'description'],
      [{ ...valid, imageUrls: ['https://images.keelson.local/a\0.jpg'] }, 'imageUrls.0'],
      [{ ...valid, name: 'n'.repeat(201) }, 'name'],
      [{ ...valid, description: 'd'.repeat(5001) }, 'description'],
      [{ ...valid, category: 'Home Office' }, 'category'],
      [{ ...valid, category: 'c'.repeat(61) }, 'category'],
      [{ ...valid, priceCents: -1 }, 'priceCents'],
      [{ ...valid, priceCents: 100_000_001 }, 'priceCents'],
      [{ ...valid, priceCents: 9.99 }, 'priceCents'],
      [{ ...valid, stock: -1 }, 'stock'],
      [{ ...valid, stock: 1_000_001 }, 'stock'],
      [{ ...valid, imageUrls: ['http://images.keelson.local/a.jpg'] }, 'imageUrls.0'],
      [{ ...valid, imageUrls: ['not a url'] }, 'imageUrls.0'],
      [{ ...valid, imageUrls: ['javascript:alert(1)'] }, 'imageUrls.0'],
      [
        { ...valid, imageUrls: Array.from({ length: 11 }, (_, i) => `https://images.keelson.local/${i}.jpg`) },
        'imageUrls',
      ],
    ])('rejects %j with BAD_REQUEST naming %s, changing nothing', async (input, field) => {
      await expectUnchanged(
        () => admin.catalog.create(input as never),
        (err) => {
          expect(err).toMatchObject({ code: 'BAD_REQUEST' });
          expect(issuePaths(err)).toContain(field);
        },
      );
    });

    it('accepts the documented maximums', async () => {
      const product = await admin.catalog.create({
        slug: 'a'.repeat(120),
        name: 'n'.repeat(200),
        description: 'd'.repeat(5000),
        category: 'c'.repeat(60),
        priceCents: 100_000_000,
        stock: 1_000_000,
        imageUrls: Array.from({ length: 10 }, (_, i) => `https://images.keelson.local/${i}.jpg`),
      });
      expect(product.priceCents).toBe(100_000_000);
    });
  });

  describe('update', () => {
    it('changes only the given fields, announces it, and is visible to readers at once', async () => {
      const before = await anonymous.catalog.get({ slug: 'walnut-mug' });
      notified.length = 0;
      const after = await admin.catalog.update({ id: before.id, priceCents: 1_234, category: 'kitchen' });
      expect(after).toEqual({ ...before, priceCents: 1_234, category: 'kitchen', updatedAt: after.updatedAt });
      expect(after.updatedAt.getTime()).toBeGreaterThanOrEqual(before.updatedAt.getTime());
      expect(await anonymous.catalog.get({ id: before.id })).toEqual(after);
      await eventually(async () => notified.includes(before.id));
    });

    it('moves a product to a free slug, and answers SLUG_TAKEN for a used one', async () => {
      const product = await anonymous.catalog.get({ slug: 'linen-mug' });
      const moved = await admin.catalog.update({ id: product.id, slug: 'linen-cup' });
      expect(moved.slug).toBe('linen-cup');
      await expect(anonymous.catalog.get({ slug: 'linen-mug' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expectUnchanged(
        () => admin.catalog.update({ id: product.id, slug: 'oak-mug', name: 'Renamed' }),
        (err) => expect(err).toMatchObject({ code: 'CONFLICT', cause: { code: 'SLUG_TAKEN' } }),
      );
    });

    it('answers NOT_FOUND for an unknown id and BAD_REQUEST for no change, bad fields or stock', async () => {
      await expectUnchanged(
        () => admin.catalog.update({ id: '01a1fc83-fefb-7ec8-8e30-000000000000', name: 'Ghost' }),
        (err) => expect(err).toMatchObject({ code: 'NOT_FOUND', cause: { code: 'PRODUCT_NOT_FOUND' } }),
      );
      const { id } = await anonymous.catalog.get({ slug: 'oak-mug' });
      for (const input of [{ id }, { id, priceCents: -5 }, { id, stock: 100 }, { id: 'nope', name: 'x' }]) {
        await expectUnchanged(
          () => admin.catalog.update(input as never),
          (err) => expect(err).toMatchObject({ code: 'BAD_REQUEST' }),
        );
      }
    });
  });

  describe('archive', () => {
    it('takes a product out of public reads and puts it back; carts keep their lines', async () => {
      const product = await anonymous.catalog.get({ slug: 'glass-mug' });
      const em = t.orm.em.fork();
      em.create(CartItem, { user: customerId, product: product.id, quantity: 2, priceCentsSeen: product.priceCents });
      await em.flush();

      const archived = await admin.catalog.archive({ id: product.id });
      expect(archived.archivedAt).toBeInstanceOf(Date);
      await expect(anonymous.catalog.get({ id: product.id })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      const publicIds = (await anonymous.catalog.list({ limit: 100 })).items.map((p) => p.id);
      expect(publicIds).not.toContain(product.id);
      const adminPage = await admin.catalog.list({ limit: 100, includeArchived: true });
      expect(adminPage.items.find((p) => p.id === product.id)?.archivedAt).toEqual(archived.archivedAt);
      // Archiving again keeps the first date.
      expect((await admin.catalog.archive({ id: product.id })).archivedAt).toEqual(archived.archivedAt);
      expect(await sql(t.db.url, 'select quantity from cart_item where product_id = $1', [product.id])).toEqual([
        { quantity: 2 },
      ]);

      const restored = await admin.catalog.archive({ id: product.id, archived: false });
      expect(restored.archivedAt).toBeNull();
      expect((await anonymous.catalog.get({ id: product.id })).id).toBe(product.id);
    });

    it('answers NOT_FOUND for an unknown id', async () => {
      await expect(admin.catalog.archive({ id: '01a1fc83-fefb-7ec8-8e30-000000000000' })).rejects.toMatchObject({
        code: 'NOT_FOUND',
      });
    });

    it('shows archived products to admins only', async () => {
      for (const caller of [anonymous, customer]) {
        await expect(caller.catalog.list({ includeArchived: true })).rejects.toMatchObject({ code: 'FORBIDDEN' });
      }
    });
  });

  describe('restock', () => {
    it('adds and removes units with a ledger row each, by the admin', async () => {
      const product = await anonymous.catalog.get({ slug: 'steel-mug' });
      notified.length = 0;
      const up = await admin.catalog.restock({ productId: product.id, delta: 7 });
      expect(up.stock).toBe(product.stock + 7);
      const down = await admin.catalog.restock({ productId: product.id, delta: -3 });
      expect(down.stock).toBe(product.stock + 4);
      const rows = await sql(
        t.db.url,
        `select delta, reason, actor_user_id from stock_adjustment where product_id = $1 and reason <> 'initial' order by at`,
        [product.id],
      );
      expect(rows).toEqual([
        { delta: 7, reason: 'restock', actor_user_id: adminId },
        { delta: -3, reason: 'correction', actor_user_id: adminId },
      ]);
      await eventually(async () => notified.filter((id) => id === product.id).length >= 2);
      await expectLedgerBalanced();
    });

    it('lists the ledger newest first, with who made each change, a page at a time', async () => {
      const product = await admin.catalog.create({ slug: 'ledger-thing', name: 'Ledger', priceCents: 100, stock: 4 });
      await admin.catalog.restock({ productId: product.id, delta: 6 });
      await admin.catalog.restock({ productId: product.id, delta: -2 });
      const first = await admin.catalog.stockAdjustments({ productId: product.id, limit: 2 });
      expect(first.items.map((a) => [a.delta, a.reason, a.actorEmail])).toEqual([
        [-2, 'correction', 'admin@catalog.test'],
        [6, 'restock', 'admin@catalog.test'],
      ]);
      const rest = await admin.catalog.stockAdjustments({ productId: product.id, limit: 2, cursor: first.nextCursor });
      expect(rest.items.map((a) => [a.delta, a.reason])).toEqual([[4, 'initial']]);
      expect(rest.nextCursor).toBeNull();
      await expect(
        admin.catalog.stockAdjustments({ productId: '01a1fc83-fefb-7ec8-8e30-000000000000' }),
      ).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(customer.catalog.stockAdjustments({ productId: product.id })).rejects.toMatchObject({
        code: 'FORBIDDEN',
      });
      // An archived product stays readable to admins by id, and to nobody else.
      await admin.catalog.archive({ id: product.id });
      expect((await admin.catalog.getAny({ id: product.id })).archivedAt).toBeInstanceOf(Date);
      await expect(anonymous.catalog.get({ id: product.id })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(admin.catalog.getAny({ id: '01a1fc83-fefb-7ec8-8e30-000000000000' })).rejects.toMatchObject({
        code: 'NOT_FOUND',
      });
    });

    it('never takes stock below zero: INSUFFICIENT_STOCK with the available units, nothing changed', async () => {
      const product = await anonymous.catalog.get({ slug: 'bamboo-mug' });
      await expectUnchanged(
        () => admin.catalog.restock({ productId: product.id, delta: -(product.stock + 1) }),
        (err) =>
          expect(err).toMatchObject({
            code: 'CONFLICT',
            cause: {
              code: 'INSUFFICIENT_STOCK',
              details: { productId: product.id, available: product.stock, requested: product.stock + 1 },
            },
          }),
      );
    });

    it('applies concurrent corrections one by one: exactly the available units are removed', async () => {
      const product = await admin.catalog.create({ slug: 'scarce-thing', name: 'Scarce', priceCents: 100, stock: 10 });
      const results = await Promise.allSettled(
        Array.from({ length: 25 }, () => admin.catalog.restock({ productId: product.id, delta: -1 })),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
      expect((await anonymous.catalog.get({ id: product.id })).stock).toBe(0);
      await expectLedgerBalanced();
    });

    it('answers NOT_FOUND, BAD_REQUEST and STOCK_LIMIT_EXCEEDED without changing anything', async () => {
      await expectUnchanged(
        () => admin.catalog.restock({ productId: '01a1fc83-fefb-7ec8-8e30-000000000000', delta: 1 }),
        (err) => expect(err).toMatchObject({ code: 'NOT_FOUND' }),
      );
      const { id } = await anonymous.catalog.get({ slug: 'oak-mug' });
      for (const delta of [0, 1.5, 1_000_001, -1_000_001]) {
        await expectUnchanged(
          () => admin.catalog.restock({ productId: id, delta }),
          (err) => expect(issuePaths(err)).toContain('delta'),
        );
      }
      await sql(t.db.url, 'update product set stock = 999999999 where id = $1', [id]);
      try {
        await expectUnchanged(
          () => admin.catalog.restock({ productId: id, delta: 2 }),
          (err) => expect(err).toMatchObject({ code: 'CONFLICT', cause: { code: 'STOCK_LIMIT_EXCEEDED' } }),
        );
      } finally {
        await sql(
          t.db.url,
          'update product set stock = (select coalesce(sum(delta), 0) from stock_adjustment where product_id = $1) where id = $1',
          [id],
        );
      }
    });
  });

  it('ranks name matches above description matches, whatever their age', async () => {
    const hook = await admin.catalog.create({ slug: 'lantern-hook', name: 'Lantern Hook', priceCents: 1 });
    const candle = await admin.catalog.create({
      slug: 'brass-candle',
      name: 'Brass Candle',
      description: 'Fits any lantern.',
      priceCents: 1,
    });
    expect((await anonymous.catalog.list({ q: 'lantern' })).items.map((p) => p.id)).toEqual([hook.id, candle.id]);
    expect((await anonymous.catalog.list({ q: 'lantern', sort: 'newest' })).items.map((p) => p.id)).toEqual([
      candle.id,
      hook.id,
    ]);
  });

  it('counts listed products per category', async () => {
    const categories = await anonymous.catalog.categories();
    const [{ count }] = (await sql<{ count: number }>(
      t.db.url,
      'select count(*)::int as count from product where archived_at is null',
    )) as [{ count: number }];
    expect(categories.reduce((n, c) => n + c.count, 0)).toBe(count);
    expect(categories.map((c) => c.category)).toEqual([...categories.map((c) => c.category)].sort());
    const kitchen = categories.find((c) => c.category === 'kitchen')?.count ?? 0;
    const extra = await admin.catalog.create({
      slug: 'kitchen-extra',
      name: 'Extra',
      priceCents: 1,
      category: 'kitchen',
    });
    expect((await anonymous.catalog.categories()).find((c) => c.category === 'kitchen')?.count).toBe(kitchen + 1);
    await admin.catalog.archive({ id: extra.id });
    expect((await anonymous.catalog.categories()).find((c) => c.category === 'kitchen')?.count ?? 0).toBe(kitchen);
  });
});
