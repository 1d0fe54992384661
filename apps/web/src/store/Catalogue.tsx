/**
 * The catalogue: words (each matching as a prefix), category, price range and sort, all in the URL so
 * that back, forward, reload and a shared link show the same list; pages load on the keyset cursor as
 * the end of the list scrolls into view (or with the button, for keyboards).
 */
import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { type FormEvent, useEffect, useRef } from 'react';
import { useSearchParams } from 'react-router';
import { track } from '../analytics.ts';
import { type RouterInputs, useTRPC } from '../trpc.ts';
import { fieldIssues } from '../ui/form.tsx';
import { Empty, ErrorNotice, Loading } from '../ui/status.tsx';
import { ProductCard } from './ProductCard.tsx';
import './store.css';

type ListInput = RouterInputs['catalog']['list'];
type Sort = NonNullable<ListInput['sort']>;

const SORTS: { value: Sort | ''; label: string }[] = [
  { value: '', label: 'Best match / newest' },
  { value: 'newest', label: 'Newest' },
  { value: 'price_asc', label: 'Price: low to high' },
  { value: 'price_desc', label: 'Price: high to low' },
  { value: 'name', label: 'Name' },
  { value: 'relevance', label: 'Relevance (with words)' },
];
const PAGE_SIZE = 24;

/** Whole currency units in the URL and the form; cents to the API. */
function toCents(v: string | null): number | undefined {
  if (!v) return undefined;
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 ? Math.round(n * 100) : undefined;
}

function isSort(v: string | null): v is Sort {
  return SORTS.some((s) => s.value !== '' && s.value === v);
}

export default function Catalogue() {
  const trpc = useTRPC();
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const category = params.get('category') ?? '';
  const sort = params.get('sort');
  const input: Omit<ListInput, 'cursor'> = {
    limit: PAGE_SIZE,
    ...(q ? { q } : {}),
    ...(category ? { category } : {}),
    ...(toCents(params.get('minPrice')) !== undefined ? { minPriceCents: toCents(params.get('minPrice')) } : {}),
    ...(toCents(params.get('maxPrice')) !== undefined ? { maxPriceCents: toCents(params.get('maxPrice')) } : {}),
    ...(isSort(sort) ? { sort } : {}),
  };
  const categories = useQuery(trpc.catalog.categories.queryOptions());
  const list = useInfiniteQuery(
    trpc.catalog.list.infiniteQueryOptions(input, { getNextPageParam: (page) => page.nextCursor ?? undefined }),
  );
  const issues = fieldIssues(list.error);

  const apply = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const next = new URLSearchParams();
    for (const key of ['q', 'category', 'minPrice', 'maxPrice', 'sort']) {
      const value = String(form.get(key) ?? '').trim();
      if (value) next.set(key, value);
    }
    const words = next.get('q');
    if (words) track({ name: 'search', props: { q: words.slice(0, 200) } });
    setParams(next);
  };

  // The next page when the end of the list comes into view.
  const sentinel = useRef<HTMLDivElement>(null);
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = list;
  useEffect(() => {
    const el = sentinel.current;
    if (!el || !hasNextPage) return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && !isFetchingNextPage) void fetchNextPage();
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, [hasNextPage, isFetchingNextPage, fetchNextPage]);

  const products = list.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <section>
      <h1>Catalogue</h1>
      {/* Keyed by the URL: back and forward put the URL's values back in the fields. */}
      <search>
        <form className="filters" onSubmit={apply} key={params.toString()}>
          <div className="field">
            <label htmlFor="f-q">Search</label>
            <input id="f-q" name="q" type="search" defaultValue={q} placeholder="oak lam" maxLength={200} />
            {issues.q ? <small className="issue">{issues.q}</small> : null}
          </div>
          <div className="field">
            <label htmlFor="f-category">Category</label>
            <select id="f-category" name="category" defaultValue={category}>
              <option value="">All categories</option>
              {categories.data?.map((c) => (
                <option key={c.category} value={c.category}>
                  {c.category} ({c.count})
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="f-min">Min price</label>
            <input
              id="f-min"
              name="minPrice"
              type="number"
              min="0"
              step="0.01"
              defaultValue={params.get('minPrice') ?? ''}
            />
          </div>
          <div className="field">
            <label htmlFor="f-max">Max price</label>
            <input
              id="f-max"
              name="maxPrice"
              type="number"
              min="0"
              step="0.01"
              defaultValue={params.get('maxPrice') ?? ''}
            />
            {issues.maxPriceCents ? <small className="issue">{issues.maxPriceCents}</small> : null}
          </div>
          <div className="field">
            <label htmlFor="f-sort">Sort</label>
            <select id="f-sort" name="sort" defaultValue={isSort(sort) ? sort : ''}>
              {SORTS.map((s) => (
                <option key={s.value} value={s.value}>
                  {s.label}
                </option>
              ))}
            </select>
            {issues.sort ? <small className="issue">{issues.sort}</small> : null}
          </div>
          <button type="submit">Show</button>
        </form>
      </search>

      {list.isPending ? <Loading what="Loading products" /> : null}
      <ErrorNotice error={list.error} />
      {list.isSuccess && products.length === 0 ? <Empty>No products match.</Empty> : null}
      <ul className="grid" aria-label="Products" aria-busy={list.isFetching}>
        {products.map((p) => (
          <ProductCard key={p.id} product={p} />
        ))}
      </ul>
      <div ref={sentinel} />
      {hasNextPage ? (
        <button type="button" className="secondary" onClick={() => void fetchNextPage()} disabled={isFetchingNextPage}>
          {isFetchingNextPage ? 'Loading…' : 'Load more'}
        </button>
      ) : null}
    </section>
  );
}
