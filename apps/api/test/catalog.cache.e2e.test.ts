/**
 * Catalogue caching through the real API: the Cache-Control a browser or CDN sees, the in-process cache
 * of each API process, and its invalidation across processes by LISTEN/NOTIFY.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createClient } from '@keelson/client';
import { seed } from '@keelson/db';
import { eventually, freePort, rawCall, sql, startProcess, startTestApi, type TestApi } from '@keelson/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** An admin account and a live session for it, written straight to the database; returns the bearer token. */
async function adminToken(url: string): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  const [user] = await sql<{ id: string }>(
    url,
    `insert into app_user (id, email, name, role, password_hash, created_at, updated_at, email_verified_at)
     values ($1, $2, 'Cache admin', 'admin', null, now(), now(), now()) returning id`,
    [randomUUID(), `admin.${randomUUID()}@cache.test`],
  );
  await sql(
    url,
    `insert into auth_session (id, token_hash, user_id, expires_at, absolute_expires_at, created_at, last_used_at)
     values ($1, $2, $3, now() + interval '1 hour', now() + interval '2 hours', now(), now())`,
    [randomUUID(), createHash('sha256').update(token).digest('hex'), user!.id],
  );
  return token;
}

/** The listener connections of API processes on this database. */
const listenerPids = (url: string) =>
  sql<{ pid: number }>(
    url,
    `select pid from pg_stat_activity where application_name = 'keelson-listener' and datname = current_database()`,
  );

describe('Cache-Control', () => {
  let api: TestApi;
  let token: string;
  beforeAll(async () => {
    api = await startTestApi({
      config: { CATALOG_CACHE_MAX_AGE_S: '45', CATALOG_CACHE_STALE_WHILE_REVALIDATE_S: '15' },
    });
    await seed(api.orm.em.fork(), {});
    token = await adminToken(api.db.url);
  });
  afterAll(() => api.close());

  const PUBLIC = 'public, max-age=45, stale-while-revalidate=15';
  const PRIVATE = 'private, no-store';

  const get = async (paths: string[], inputs: unknown[], headers: Record<string, string> = {}) => {
    const batch = paths.length > 1;
    const input = batch ? Object.fromEntries(inputs.map((v, i) => [i, { json: v }])) : { json: inputs[0] };
    const res = await fetch(
      `${api.baseUrl}/trpc/${paths.join(',')}?${batch ? 'batch=1&' : ''}input=${encodeURIComponent(JSON.stringify(input))}`,
      { headers },
    );
    await res.arrayBuffer();
    return { status: res.status, cacheControl: res.headers.get('cache-control') };
  };

  it('lets browsers and CDNs share anonymous public catalogue reads', async () => {
    expect(await get(['catalog.list'], [{ limit: 2 }])).toEqual({ status: 200, cacheControl: PUBLIC });
    expect(await get(['catalog.get'], [{ slug: 'oak-mug' }])).toEqual({ status: 200, cacheControl: PUBLIC });
    expect(await get(['catalog.categories'], [undefined])).toEqual({ status: 200, cacheControl: PUBLIC });
    expect(
      await get(
        ['catalog.list', 'catalog.get', 'catalog.categories'],
        [{ sort: 'price_asc' }, { slug: 'oak-mug' }, undefined],
      ),
    ).toEqual({ status: 200, cacheControl: PUBLIC });
  });

  it('keeps everything else out of shared caches', async () => {
    const authorization = { authorization: `Bearer ${token}` };
    // A credential: the answer may be personal, and a cookie may be renewed on the way.
    expect(await get(['catalog.get'], [{ slug: 'oak-mug' }], authorization)).toMatchObject({ cacheControl: PRIVATE });
    expect(await get(['catalog.list'], [{ includeArchived: true }], authorization)).toEqual({
      status: 200,
      cacheControl: PRIVATE,
    });
    // An error, or a call that is not a public catalogue query, in the batch.
    expect(await get(['catalog.get'], [{ slug: 'no-such-product' }])).toEqual({ status: 404, cacheControl: PRIVATE });
    expect(await get(['catalog.list'], [{ includeArchived: true }])).toEqual({ status: 403, cacheControl: PRIVATE });
    expect(await get(['catalog.list'], [{ limit: 0 }])).toEqual({ status: 400, cacheControl: PRIVATE });
    expect(await get(['catalog.get', 'auth.me'], [{ slug: 'oak-mug' }, undefined])).toEqual({
      status: 200,
      cacheControl: PRIVATE,
    });
    const product = await api.client.catalog.get.query({ slug: 'oak-mug' });
    const view = await rawCall(api.baseUrl, {
      path: 'catalog.recordView',
      type: 'mutation',
      input: { id: product.id },
    });
    expect(view.headers.get('cache-control')).toBe(PRIVATE);
  });

  it('keeps Retry-After on throttled calls', async () => {
    const email = `throttled.${Date.now()}@cache.test`;
    let last: Awaited<ReturnType<typeof rawCall>> | undefined;
    for (let i = 0; i < 6; i++) {
      last = await rawCall(api.baseUrl, {
        path: 'auth.logIn',
        type: 'mutation',
        input: { email, password: 'wrong password here' },
      });
    }
    expect(last?.status).toBe(429);
    expect(Number(last?.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(last?.headers.get('cache-control')).toBe(PRIVATE);
  });
});

describe('in-process catalogue cache', () => {
  let api: TestApi;
  let admin: ReturnType<typeof createClient>;
  beforeAll(async () => {
    api = await startTestApi();
    await seed(api.orm.em.fork(), {});
    const token = await adminToken(api.db.url);
    admin = api.newClient({ token: () => token });
  });
  afterAll(() => api.close());

  it('serves repeated reads from memory, and drops an entry when its product changes', async () => {
    const product = await api.client.catalog.get.query({ slug: 'walnut-notebook' });
    // Behind the API's back (no NOTIFY): the cache keeps answering, which proves it is used.
    await sql(api.db.url, `update product set name = 'Changed quietly' where id = $1`, [product.id]);
    expect((await api.client.catalog.get.query({ slug: 'walnut-notebook' })).name).toBe(product.name);
    expect((await api.client.catalog.get.query({ id: product.id })).name).toBe('Changed quietly'); // first read by id
    // Any process announcing the change (here: by hand) empties both entries.
    await sql(api.db.url, `select pg_notify('keelson_catalog', $1)`, [product.id]);
    await eventually(
      async () => (await api.client.catalog.get.query({ slug: 'walnut-notebook' })).name === 'Changed quietly',
    );
    expect(api.app.catalogCache?.stats().hits).toBeGreaterThan(0);
  });

  it('shows an admin their own change at once (no wait for the notification)', async () => {
    const product = await api.client.catalog.get.query({ slug: 'wool-mug' });
    await admin.catalog.update.mutate({ id: product.id, priceCents: product.priceCents + 1 });
    expect((await api.client.catalog.get.query({ slug: 'wool-mug' })).priceCents).toBe(product.priceCents + 1);
    await admin.catalog.archive.mutate({ id: product.id });
    await expect(api.client.catalog.get.query({ slug: 'wool-mug' })).rejects.toMatchObject({
      data: { code: 'NOT_FOUND' },
    });
  });

  it('empties itself when its listener reconnects: changes announced in the gap are not missed', async () => {
    const product = await api.client.catalog.get.query({ slug: 'cotton-mug' });
    await api.client.catalog.get.query({ slug: 'cotton-mug' });
    const [before] = await listenerPids(api.db.url);
    expect(before).toBeDefined();
    await sql(api.db.url, 'select pg_terminate_backend($1)', [before!.pid]);
    // A change made while the listener is away: its notification is lost for good.
    await sql(api.db.url, `update product set name = 'Changed in the gap' where id = $1`, [product.id]);
    await sql(api.db.url, `select pg_notify('keelson_catalog', $1)`, [product.id]);
    await eventually(async () => {
      const [after] = await listenerPids(api.db.url);
      return after && after.pid !== before!.pid;
    });
    await eventually(async () => api.app.catalogCache?.stats().live);
    expect((await api.client.catalog.get.query({ slug: 'cotton-mug' })).name).toBe('Changed in the gap');
    // And later notifications still arrive.
    await api.client.catalog.get.query({ slug: 'cotton-mug' });
    await sql(api.db.url, `update product set name = 'Changed after' where id = $1`, [product.id]);
    await sql(api.db.url, `select pg_notify('keelson_catalog', $1)`, [product.id]);
    await eventually(async () => (await api.client.catalog.get.query({ slug: 'cotton-mug' })).name === 'Changed after');
  });
});

describe('catalogue cache across two API processes', () => {
  it('an update through B reaches the cache of A within moments', async () => {
    await using a0 = await startTestApi({ config: { CATALOG_CACHE_MAX_ENTRIES: '0' } });
    await seed(a0.orm.em.fork(), {});
    const token = await adminToken(a0.db.url);
    const [portA, portB] = [await freePort(), await freePort()];
    const env = (port: number) => ({ DATABASE_URL: a0.db.url, PORT: String(port), LOG_LEVEL: 'info' });
    await using procA = startProcess('apps/api/src/main.ts', env(portA));
    await using procB = startProcess('apps/api/src/main.ts', env(portB));
    await Promise.all([procA.waitFor(/api listening/), procB.waitFor(/api listening/)]);
    const a = createClient({ url: `http://127.0.0.1:${portA}/trpc` });
    const b = createClient({ url: `http://127.0.0.1:${portB}/trpc`, token: () => token });

    const product = await a.catalog.get.query({ slug: 'glass-desk-lamp' });
    // Changed without NOTIFY: A still answers from its cache, so the cache is really in use.
    await sql(a0.db.url, 'update product set price_cents = price_cents + 100 where id = $1', [product.id]);
    expect((await a.catalog.get.query({ slug: 'glass-desk-lamp' })).priceCents).toBe(product.priceCents);

    const started = Date.now();
    await b.catalog.update.mutate({ id: product.id, name: 'Glass Desk Lamp II' });
    const seen = await eventually(async () => {
      const now = await a.catalog.get.query({ slug: 'glass-desk-lamp' });
      return now.name === 'Glass Desk Lamp II' ? now : null;
    }, 2_000);
    expect(seen.priceCents).toBe(product.priceCents + 100);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
