import { type CatalogCache, createCatalogCache, type ProductDto } from '@keelson/catalog';
import { describe, expect, it } from 'vitest';

const ID = (n: number) => `01a1fc83-fefb-7ec8-8e30-${String(n).padStart(12, '0')}`;

function product(n: number, name = `Product ${n}`): ProductDto {
  const at = new Date('2026-11-21T00:00:00Z');
  return {
    id: ID(n),
    slug: `product-${n}`,
    name,
    description: '',
    category: 'general',
    imageUrls: [],
    priceCents: 100,
    currency: 'USD',
    stock: 1,
    viewCount: 0,
    archivedAt: null,
    createdAt: at,
    updatedAt: at,
  };
}

/** A database of one table, counting reads. */
function source() {
  const rows = new Map<number, ProductDto>();
  let reads = 0;
  return {
    rows,
    reads: () => reads,
    load: (n: number) => async () => {
      reads++;
      const row = rows.get(n);
      if (!row) throw new Error('not found');
      return row;
    },
  };
}

function live(opts: Partial<Parameters<typeof createCatalogCache>[0]> = {}): CatalogCache {
  const cache = createCatalogCache({ maxEntries: 100, ttlMs: 60_000, ...opts });
  cache.setLive(true);
  return cache;
}

describe('createCatalogCache', () => {
  it('serves repeated reads from memory until the product is invalidated, by id or by slug', async () => {
    const db = source();
    db.rows.set(1, product(1));
    const cache = live();
    await cache.product({ id: ID(1) }, db.load(1));
    await cache.product({ slug: 'product-1' }, db.load(1));
    expect(await cache.product({ id: ID(1) }, db.load(1))).toEqual(product(1));
    expect(await cache.product({ slug: 'product-1' }, db.load(1))).toEqual(product(1));
    expect(db.reads()).toBe(2);
    db.rows.set(1, product(1, 'Renamed'));
    cache.invalidate([ID(1)]);
    expect((await cache.product({ slug: 'product-1' }, db.load(1))).name).toBe('Renamed');
    expect((await cache.product({ id: ID(1) }, db.load(1))).name).toBe('Renamed');
    expect(db.reads()).toBe(4);
    expect(cache.stats()).toMatchObject({ hits: 2, misses: 4, size: 2, live: true });
  });

  it('never stores a read that started before an invalidation (the stale-read race)', async () => {
    const db = source();
    db.rows.set(1, product(1, 'Old'));
    const cache = live();
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    // The read sees the old row, then the write commits and its notification arrives before the read ends.
    const slowRead = cache.product({ id: ID(1) }, async () => {
      const row = await db.load(1)();
      await gate;
      return row;
    });
    await Promise.resolve();
    db.rows.set(1, product(1, 'New'));
    cache.invalidate([ID(1)]);
    release();
    expect((await slowRead).name).toBe('Old'); // that caller got what it read
    expect((await cache.product({ id: ID(1) }, db.load(1))).name).toBe('New'); // nobody else does
  });

  it('is bypassed while not live, and starts empty when live again', async () => {
    const db = source();
    db.rows.set(1, product(1));
    const cache = createCatalogCache({ maxEntries: 100, ttlMs: 60_000 });
    await cache.product({ id: ID(1) }, db.load(1));
    await cache.product({ id: ID(1) }, db.load(1));
    expect(db.reads()).toBe(2); // not live before the listener connects
    cache.setLive(true);
    await cache.product({ id: ID(1) }, db.load(1));
    await cache.product({ id: ID(1) }, db.load(1));
    expect(db.reads()).toBe(3);
    cache.setLive(false);
    await cache.product({ id: ID(1) }, db.load(1));
    expect(db.reads()).toBe(4);
    expect(cache.stats().size).toBe(0);
    cache.setLive(true);
    await cache.product({ id: ID(1) }, db.load(1));
    expect(db.reads()).toBe(5);
  });

  it('drops a read that was in flight when the listener disconnected', async () => {
    const db = source();
    db.rows.set(1, product(1));
    const cache = live();
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const read = cache.product({ id: ID(1) }, async () => {
      await gate;
      return db.load(1)();
    });
    cache.setLive(false);
    cache.setLive(true);
    release();
    await read;
    expect(cache.stats().size).toBe(0);
  });

  it('keeps at most maxEntries, evicting the least recently used', async () => {
    const db = source();
    for (const n of [1, 2, 3]) db.rows.set(n, product(n));
    const cache = live({ maxEntries: 2 });
    await cache.product({ id: ID(1) }, db.load(1));
    await cache.product({ id: ID(2) }, db.load(2));
    await cache.product({ id: ID(1) }, db.load(1)); // 1 is now the most recent
    await cache.product({ id: ID(3) }, db.load(3)); // evicts 2
    expect(cache.stats().size).toBe(2);
    const before = db.reads();
    await cache.product({ id: ID(1) }, db.load(1));
    expect(db.reads()).toBe(before);
    await cache.product({ id: ID(2) }, db.load(2));
    expect(db.reads()).toBe(before + 1);
  });

  it('expires entries after the TTL, and caches no errors', async () => {
    let now = 0;
    const db = source();
    db.rows.set(1, product(1));
    const cache = live({ ttlMs: 1_000, now: () => now });
    await cache.product({ id: ID(1) }, db.load(1));
    now = 999;
    await cache.product({ id: ID(1) }, db.load(1));
    expect(db.reads()).toBe(1);
    now = 1_001;
    await cache.product({ id: ID(1) }, db.load(1));
    expect(db.reads()).toBe(2);
    await expect(cache.product({ id: ID(9) }, db.load(9))).rejects.toThrow('not found');
    await expect(cache.product({ id: ID(9) }, db.load(9))).rejects.toThrow('not found');
    expect(db.reads()).toBe(4);
  });

  it('drops category counts on any product change, and everything on `*`', async () => {
    const db = source();
    db.rows.set(1, product(1));
    const cache = live();
    let counts = 0;
    const load = async () => {
      counts++;
      return [{ category: 'general', count: 1 }];
    };
    await cache.categories(load);
    await cache.categories(load);
    expect(counts).toBe(1);
    cache.invalidate([ID(7)]);
    await cache.categories(load);
    expect(counts).toBe(2);
    await cache.product({ id: ID(1) }, db.load(1));
    cache.invalidate('*');
    expect(cache.stats().size).toBe(0);
  });

  it('hands out frozen values, so no caller can change what the next one gets', async () => {
    const db = source();
    db.rows.set(1, product(1));
    const cache = live();
    await cache.product({ id: ID(1) }, db.load(1));
    const cached = await cache.product({ id: ID(1) }, db.load(1));
    expect(Object.isFrozen(cached)).toBe(true);
    expect(Object.isFrozen(cached.imageUrls)).toBe(true);
  });
});
