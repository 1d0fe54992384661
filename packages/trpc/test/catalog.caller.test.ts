import { Product, seed } from '@keelson/db';
import { createProduct, createUsers, queuedJobs, sql, testContext, useTestOrm } from '@keelson/testing';
import { appRouter, createCallerFactory } from '@keelson/trpc';
import { TRPCError } from '@trpc/server';
import { beforeAll, describe, expect, it } from 'vitest';

const createCaller = createCallerFactory(appRouter);

describe('catalog procedures (createCaller)', () => {
  const t = useTestOrm();
  let caller: ReturnType<typeof createCaller>;

  beforeAll(async () => {
    await seed(t.orm.em.fork(), {});
    caller = createCaller(testContext(t.orm));
  });

  it('pages through every active product exactly once, newest first', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Awaited<ReturnType<typeof caller.catalog.list>> = await caller.catalog.list({ limit: 7, cursor });
      expect(page.items.length).toBeLessThanOrEqual(7);
      seen.push(...page.items.map((p) => p.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    const [{ count }] = (await sql<{ count: string }>(
      t.db.url,
      'select count(*) from product where archived_at is null',
    )) as [{ count: string }];
    expect(seen).toHaveLength(Number(count));
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort().reverse()).toEqual(seen);
    expect(pages).toBe(Math.ceil(Number(count) / 7));
  });

  type ListInput = Parameters<typeof caller.catalog.list>[0];

  /** Every page of a listing, following cursors to the end. */
  async function pageThrough(input: ListInput, limit = 7) {
    const items: Awaited<ReturnType<typeof caller.catalog.list>>['items'] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Awaited<ReturnType<typeof caller.catalog.list>> = await caller.catalog.list({
        ...input,
        limit,
        cursor,
      });
      expect(page.items.length).toBeLessThanOrEqual(limit);
      items.push(...page.items);
      cursor = page.nextCursor;
      if (++pages > 100) throw new Error('cursor loop');
    } while (cursor);
    return { items, pages };
  }

  const orderBy = {
    newest: 'id desc',
    price_asc: 'price_cents, id',
    price_desc: 'price_cents desc, id desc',
    name: 'name, id',
  } as const;

  // Every sort, alone and with each filter: the pages hold exactly the rows one query would return, in
  // the same order, each once (ties on price are common in the demo data, so the id tie-break matters).
  const filters: [string, ListInput, string][] = [
    ['no filter', {}, ''],
    ['a category', { category: 'kitchen' }, `and category = 'kitchen'`],
    ['a price range', { minPriceCents: 2_000, maxPriceCents: 6_000 }, 'and price_cents between 2000 and 6000'],
    [
      'category and minimum price',
      { category: 'lighting', minPriceCents: 3_000 },
      `and category = 'lighting' and price_cents >= 3000`,
    ],
    ['words', { q: 'oak' }, `and search_vector @@ to_tsquery('simple', 'oak:*')`],
  ];
  it.each(
    (Object.keys(orderBy) as (keyof typeof orderBy)[]).flatMap((sort) =>
      filters.map(([label, input, where]) => [sort, label, { input, where }] as const),
    ),
  )('pages through every listed product exactly once, sort %s with %s', async (sort, _label, { input, where }) => {
    const expected = await sql<{ id: string }>(
      t.db.url,
      `select id from product where archived_at is null ${where} order by ${orderBy[sort]}`,
    );
    expect(expected.length).toBeGreaterThan(0);
    const { items, pages } = await pageThrough({ ...input, sort });
    expect(items.map((p) => p.id)).toEqual(expected.map((r) => r.id));
    expect(pages).toBe(Math.max(1, Math.ceil(expected.length / 7)));
  });

  it('sorts a search by relevance by default, and pages through it exactly once', async () => {
    const { items } = await pageThrough({ q: 'lamp made' }, 3);
    expect(items).toHaveLength(10);
    const all = await pageThrough({ q: 'oak' }, 4);
    const expected = await sql<{ id: string }>(
      t.db.url,
      `select id from product where archived_at is null and search_vector @@ to_tsquery('simple', 'oak:*')
       order by ts_rank_cd(search_vector, to_tsquery('simple', 'oak:*')) desc, id desc`,
    );
    expect(all.items.map((p) => p.id)).toEqual(expected.map((r) => r.id));
    const explicit = await pageThrough({ q: 'oak', sort: 'relevance' }, 4);
    expect(explicit.items).toEqual(all.items);
    const ranked = await caller.catalog.list({ q: 'copper', limit: 100 });
    expect(ranked.items).toHaveLength(6);
  });

  it('filters by category and an inclusive price range', async () => {
    const page = await caller.catalog.list({
      category: 'kitchen',
      minPriceCents: 1_900,
      maxPriceCents: 5_400,
      limit: 100,
    });
    expect(page.items.length).toBeGreaterThan(0);
    for (const p of page.items) {
      expect(p.category).toBe('kitchen');
      expect(p.priceCents).toBeGreaterThanOrEqual(1_900);
      expect(p.priceCents).toBeLessThanOrEqual(5_400);
      expect(p.archivedAt).toBeNull();
    }
    expect((await caller.catalog.list({ category: 'no-such-category' })).items).toEqual([]);
  });

  const forged = (sort: string, key: unknown) =>
    Buffer.from(JSON.stringify([sort, key, '01a1fc83-fefb-7ec8-8e30-000000000000'])).toString('base64url');

  it('refuses a cursor from another sort, relevance without words, and an empty price range', async () => {
    const byPrice = await caller.catalog.list({ sort: 'price_asc', limit: 2 });
    for (const [input, field] of [
      [{ sort: 'name', cursor: byPrice.nextCursor }, 'cursor'],
      [{ cursor: byPrice.nextCursor }, 'cursor'],
      [{ sort: 'relevance' }, 'sort'],
      [{ sort: 'relevance', q: '!!!' }, 'sort'],
      [{ minPriceCents: 500, maxPriceCents: 100 }, 'minPriceCents'],
      [{ maxPriceCents: 100_000_001 }, 'maxPriceCents'],
      [{ category: 'Not A Slug' }, 'category'],
      [{ sort: 'cheapest' }, 'sort'],
      // Forged cursors whose key the column could not hold must not reach PostgreSQL.
      [{ sort: 'price_asc', cursor: forged('price_asc', 'x') }, 'cursor'],
      [{ sort: 'price_asc', cursor: forged('price_asc', 1e20) }, 'cursor'],
      [{ sort: 'price_desc', cursor: forged('price_desc', -1) }, 'cursor'],
      [{ sort: 'name', cursor: forged('name', 'a\0b') }, 'cursor'],
      [{ sort: 'name', cursor: forged('name', 'n'.repeat(201)) }, 'cursor'],
      [{ q: 'oak', cursor: forged('relevance', 1e300) }, 'cursor'],
      [{ q: 'oak', cursor: forged('relevance', null) }, 'cursor'],
      [{ cursor: forged('newest', 5) }, 'cursor'],
    ] as const) {
      const err = await caller.catalog.list(input as never).catch((e: unknown) => e);
      expect(err, JSON.stringify(input)).toMatchObject({ code: 'BAD_REQUEST' });
      const issues = ((err as TRPCError).cause as unknown as { issues: { path: string[] }[] }).issues;
      expect(issues.map((i) => i.path[0])).toContain(field);
    }
  });

  it('defaults to 20 items', async () => {
    expect((await caller.catalog.list({})).items).toHaveLength(20);
  });

  it('searches name and description by word prefix, ignoring punctuation', async () => {
    const page = await caller.catalog.list({ q: 'oak lam', limit: 100 });
    expect(page.items.map((p) => p.name)).toEqual(['Oak Desk Lamp']);
    const byDescription = await caller.catalog.list({ q: 'made of copper', limit: 100 });
    expect(byDescription.items).toHaveLength(6);
    expect((await caller.catalog.list({ q: "'); drop table product; --", limit: 100 })).items).toEqual([]);
    expect((await caller.catalog.list({ q: '   ', limit: 100 })).items).toHaveLength(60);
  });

  it('keeps search results stable across pages', async () => {
    const first = await caller.catalog.list({ q: 'mug', limit: 4 });
    const second = await caller.catalog.list({ q: 'mug', limit: 4, cursor: first.nextCursor });
    const ids = [...first.items, ...second.items].map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(8);
  });

  it('gets a product by id and by slug', async () => {
    const { items } = await caller.catalog.list({ limit: 1 });
    const product = items[0]!;
    expect(await caller.catalog.get({ id: product.id })).toEqual(product);
    expect(await caller.catalog.get({ slug: product.slug })).toEqual(product);
  });

  it('reads exactly what the ORM reads (the raw fast path of catalog.get)', async () => {
    const em = t.orm.em.fork();
    for (const product of await em.find(Product, {}, { limit: 5 })) {
      expect(await caller.catalog.get({ id: product.id })).toEqual({
        id: product.id,
        slug: product.slug,
        name: product.name,
        description: product.description,
        category: product.category,
        imageUrls: product.imageUrls,
        priceCents: product.priceCents,
        currency: product.currency,
        stock: product.stock,
        viewCount: product.viewCount,
        archivedAt: product.archivedAt ?? null,
        createdAt: product.createdAt,
        updatedAt: product.updatedAt,
      });
    }
  });

  it('answers NOT_FOUND for unknown and inactive products', async () => {
    await expect(caller.catalog.get({ slug: 'no-such-thing' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(caller.catalog.get({ slug: 'nul\0byte' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    const { items } = await caller.catalog.list({ limit: 1 });
    const product = items[0]!;
    await sql(t.db.url, 'update product set archived_at = now() where id = $1', [product.id]);
    try {
      await expect(caller.catalog.get({ id: product.id })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      const all = await caller.catalog.list({ limit: 100 });
      expect(all.items.map((p) => p.id)).not.toContain(product.id);
    } finally {
      await sql(t.db.url, 'update product set archived_at = null where id = $1', [product.id]);
    }
  });

  it.each([
    [{ limit: 0 }, 'limit'],
    [{ limit: 101 }, 'limit'],
    [{ limit: 2.5 }, 'limit'],
    [{ cursor: 'not-a-cursor' }, 'cursor'],
    [{ cursor: Buffer.from('01a1fc83-fefb-7ec8-8e30-000000000000').toString('base64url') }, 'cursor'],
    [{ q: 'x'.repeat(201) }, 'q'],
  ])('rejects %j with BAD_REQUEST naming %s', async (input, field) => {
    const err = await caller.catalog.list(input as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TRPCError);
    expect(err).toMatchObject({ code: 'BAD_REQUEST' });
    const issues = ((err as TRPCError).cause as unknown as { issues: { path: string[] }[] }).issues;
    expect(issues.map((i) => i.path[0])).toContain(field);
  });

  it('records a view and its roll-up job in one transaction; an unknown product changes nothing', async () => {
    const { items } = await caller.catalog.list({ limit: 1 });
    const product = items[0]!;
    const { jobId } = await caller.catalog.recordView({ id: product.id });
    const job = (await queuedJobs(t.db.url)).find((j) => j.id === jobId);
    expect(job).toMatchObject({ task: 'catalog__refresh_view_count', payload: { productId: product.id } });

    const before = await sql(
      t.db.url,
      'select (select count(*) from analytics_event) e, (select count(*) from graphile_worker.jobs) j',
    );
    await expect(caller.catalog.recordView({ id: '01a1fc83-fefb-7ec8-8e30-000000000000' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(caller.catalog.recordView({ id: 'nope' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    const after = await sql(
      t.db.url,
      'select (select count(*) from analytics_event) e, (select count(*) from graphile_worker.jobs) j',
    );
    expect(after).toEqual(before);
  });
});

describe('catalog.onStockChange visibility (createCaller)', () => {
  const t = useTestOrm();

  it('refuses unknown ids, and archived ones to anyone but admins, before streaming', async () => {
    const [listed, archived] = await Promise.all([
      createProduct(t.db.url, { priceCents: 100, stock: 1 }),
      createProduct(t.db.url, { priceCents: 100, stock: 1 }),
    ]);
    await sql(t.db.url, 'update product set archived_at = now() where id = $1', [archived.id]);
    const [admin, customer] = await Promise.all([
      createUsers(t.db.url, 1, { role: 'admin', prefix: 'stockwatchadmin' }).then((u) => u[0]!),
      createUsers(t.db.url, 1, { prefix: 'stockwatchcustomer' }).then((u) => u[0]!),
    ]);
    const unknown = '0193a5f0-0000-7000-8000-000000000001';
    const watch = (token: string | undefined, productIds: string[]) =>
      createCaller(testContext(t.orm, token ? { token } : {})).catalog.onStockChange({ productIds });
    const refusal = (p: Promise<unknown>) =>
      p.then(
        () => null,
        (err: TRPCError) => ({ code: err.code, ids: (err.cause as { details?: { ids?: string[] } })?.details?.ids }),
      );

    expect(await refusal(watch(undefined, [listed.id, unknown]))).toEqual({ code: 'NOT_FOUND', ids: [unknown] });
    expect(await refusal(watch(undefined, [archived.id]))).toEqual({ code: 'NOT_FOUND', ids: [archived.id] });
    expect(await refusal(watch(customer.token, [listed.id, archived.id]))).toEqual({
      code: 'NOT_FOUND',
      ids: [archived.id],
    });
    // Allowed: the stream is returned (it would need the API process's event hub to run).
    expect(await refusal(watch(undefined, [listed.id]))).toBeNull();
    expect(await refusal(watch(admin.token, [listed.id, archived.id]))).toBeNull();
  });
});
