/**
 * An in-process cache of hot catalogue reads (one product by id or slug, the category counts), kept
 * correct across API processes by the `keelson_catalog` notifications (see events.ts): each process
 * LISTENs and drops what a committed write changed.
 *
 * Three rules keep it from serving stale data:
 * - **Generation check.** A read that started before an invalidation must not store its result after
 *   it (it may have read the old row). Every invalidation bumps one counter; a load stores its result
 *   only if the counter did not move while it ran. Global rather than per key because a read by slug
 *   does not know its product id until it has finished.
 * - **Bypass while deaf.** While the listener is disconnected, notifications are lost, so nothing is
 *   read from or written to the cache; on reconnection it starts empty.
 * - **TTL backstop.** Entries expire anyway after `ttlMs`, bounding the damage of any missed message
 *   (and of changes nobody announces: the worker's view counts).
 */
import type { CategoryCount, ProductDto, ProductKey } from './schemas.ts';

export interface CatalogCacheOptions {
  /** Most entries kept; the least recently used go first. 0 turns the cache off. */
  maxEntries: number;
  /** Longest an entry is served, milliseconds. */
  ttlMs: number;
  /** Milliseconds clock; default `performance.now`. */
  now?: () => number;
}

export interface CatalogCacheStats {
  hits: number;
  misses: number;
  size: number;
  live: boolean;
}

export interface CatalogCache {
  /** The product from the cache, or `load()`'s result (cached when safe). Errors are never cached. */
  product(key: ProductKey, load: () => Promise<ProductDto>): Promise<ProductDto>;
  categories(load: () => Promise<CategoryCount[]>): Promise<CategoryCount[]>;
  /** Drops the given products (`'*'`: everything) and every derived entry (category counts). */
  invalidate(productIds: readonly string[] | '*'): void;
  /**
   * Whether invalidations are being received. Not live, the cache is bypassed; becoming live (again)
   * starts it empty, since notifications sent meanwhile were lost. Starts not live.
   */
  setLive(live: boolean): void;
  stats(): CatalogCacheStats;
}

interface Entry {
  value: unknown;
  expiresAt: number;
  /** The product this entry shows, if any: an id invalidation drops its slug entry too. */
  productId: string | null;
}

const CATEGORIES = 'categories';

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value) && !(value instanceof Date)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

export function createCatalogCache(opts: CatalogCacheOptions): CatalogCache {
  const now = opts.now ?? (() => performance.now());
  // A Map iterates in insertion order; re-inserting on every hit makes the first key the least recent.
  const entries = new Map<string, Entry>();
  /** Cache keys per product id, so invalidating a product finds its slug entry. */
  const byProduct = new Map<string, Set<string>>();
  let generation = 0;
  let live = false;
  let hits = 0;
  let misses = 0;

  const remove = (key: string) => {
    const entry = entries.get(key);
    if (!entry) return;
    entries.delete(key);
    if (entry.productId) {
      const keys = byProduct.get(entry.productId);
      keys?.delete(key);
      if (keys?.size === 0) byProduct.delete(entry.productId);
    }
  };

  const clear = () => {
    generation++;
    entries.clear();
    byProduct.clear();
  };

  const store = (key: string, value: unknown, productId: string | null) => {
    remove(key);
    entries.set(key, { value: deepFreeze(value), expiresAt: now() + opts.ttlMs, productId });
    if (productId) {
      const keys = byProduct.get(productId) ?? new Set<string>();
      keys.add(key);
      byProduct.set(productId, keys);
    }
    while (entries.size > opts.maxEntries) {
      const oldest = entries.keys().next().value;
      if (oldest === undefined) break;
      remove(oldest);
    }
  };

  async function read<T>(key: string, load: () => Promise<T>, productIdOf: (value: T) => string | null): Promise<T> {
    if (!live || opts.maxEntries <= 0) return load();
    const entry = entries.get(key);
    if (entry && entry.expiresAt > now()) {
      hits++;
      entries.delete(key);
      entries.set(key, entry);
      return entry.value as T;
    }
    if (entry) remove(key);
    misses++;
    const started = generation;
    const value = await load();
    // Anything that happened while loading (an invalidation, a disconnection) may make this value stale.
    if (live && generation === started) store(key, value, productIdOf(value));
    return value;
  }

  return {
    product: (key, load) => read('id' in key ? `id:${key.id}` : `slug:${key.slug}`, load, (p) => p.id),
    categories: (load) => read(CATEGORIES, load, () => null),
    invalidate(productIds) {
      if (productIds === '*') return clear();
      generation++;
      for (const id of productIds) {
        for (const key of [...(byProduct.get(id) ?? [])]) remove(key);
        // An id entry is found by its key even if it was never indexed (cannot happen today; cheap).
        remove(`id:${id}`);
      }
      // Counts per category change with creations, archiving and category edits: drop them on any change.
      remove(CATEGORIES);
    },
    setLive(value) {
      live = value;
      clear();
    },
    stats: () => ({ hits, misses, size: entries.size, live }),
  };
}
