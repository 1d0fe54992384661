/**
 * Every listing a client can ask for is served by an index: no sequential scan of `product`, and no
 * sort where an index already yields the order. `enable_seqscan = off` makes the planner show what it
 * *can* do on a table this small (on 60 rows it would rightly read the heap).
 *
 * Sorts the planner legitimately keeps:
 * - `relevance`: the rank is computed per matching row, so no index can hold that order; the GIN index
 *   finds the matches and a top-N sort ranks them (fine: a search matches a small share of products).
 * - any other sort with words (`q`): the GIN index finds the matches, then they are sorted, or the
 *   sort's index is walked and each row checked against the words; the planner picks by estimates.
 * - `newest` or `name` with a price range: either the price index answers the range and the rows are
 *   sorted, or the sort's index is walked and the price filtered; again the planner's choice. A
 *   combined index per pair would make writes slower for a rare listing.
 *
 * Admin listings with `includeArchived` are not covered: the partial indexes hold listed products only.
 */
import { type ListProductsInput, listingQuery, productSorts } from '@keelson/catalog';
import { type Database, seed } from '@keelson/db';
import { useTestOrm } from '@keelson/testing';
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

const CURSOR_PRODUCT = '01a1fc83-fefb-7ec8-8e30-000000000000';

describe('catalog.list query plans', () => {
  const t = useTestOrm();
  beforeAll(async () => {
    await seed(t.orm.em.fork(), {});
    await sql`analyze product`.execute(t.orm.em.fork().getKysely());
  });

  async function explain(input: ListProductsInput, opts: { sortOff: boolean }): Promise<PlanNode[]> {
    return t.orm.em.fork().transactional(async (tx) => {
      const db = tx.getKysely<Database>();
      await sql`set local enable_seqscan = off`.execute(db);
      if (opts.sortOff) await sql`set local enable_sort = off`.execute(db);
      const [row] = (await listingQuery(db, input).query.explain('json')) as { 'QUERY PLAN': [{ Plan: PlanNode }] }[];
      return nodes(row!['QUERY PLAN'][0].Plan);
    });
  }

  /** A cursor of the listing's sort, for the keyset condition's plan (the page's content does not matter). */
  function cursorFor(input: ListProductsInput): string {
    const sort = input.sort ?? 'newest';
    const key = { newest: null, price_asc: 2_500, price_desc: 2_500, name: 'Glass Mug', relevance: 0.1 }[sort];
    return Buffer.from(JSON.stringify([sort, key, CURSOR_PRODUCT])).toString('base64url');
  }

  const categories = [undefined, 'kitchen'] as const;
  const prices = [
    {},
    { minPriceCents: 2_000 },
    { maxPriceCents: 6_000 },
    { minPriceCents: 2_000, maxPriceCents: 6_000 },
  ];
  const searches = [undefined, 'oak'] as const;
  const combos = productSorts.flatMap((sort) =>
    categories.flatMap((category) =>
      prices.flatMap((price) =>
        searches
          .filter((q) => sort !== 'relevance' || q)
          .flatMap((q) =>
            [false, true].map((paged) => ({
              input: {
                sort,
                ...(category ? { category } : {}),
                ...price,
                ...(q ? { q } : {}),
              } as ListProductsInput,
              paged,
            })),
          ),
      ),
    ),
  );

  /**
   * The indexes that yield the rows in order, where one does: a sort of listed products with at most a
   * category and, for the price sorts, a price range. Null where the planner may sort (see the top).
   * Newest-first in a category may also walk the primary key and skip other categories' rows: still
   * ordered, and the planner's pick when the category holds a large share of the rows.
   */
  function orderingIndexes(input: ListProductsInput): string[] | null {
    if (input.q || input.sort === 'relevance') return null;
    const priced = input.minPriceCents !== undefined || input.maxPriceCents !== undefined;
    const c = input.category ? 'category_' : '';
    if (input.sort === 'price_asc' || input.sort === 'price_desc') return [`product_${c}price_idx`];
    if (priced) return null;
    if (input.sort === 'name') return [`product_${c}name_idx`];
    return input.category ? ['product_category_newest_idx', 'product_pkey'] : ['product_pkey'];
  }

  const summary = (plan: PlanNode[]) => JSON.stringify(plan.map((n) => [n['Node Type'], n['Index Name']]));

  it.each(combos.map((c) => [JSON.stringify(c.input), c.paged ? 'after a cursor' : 'first page', c] as const))(
    '%s, %s: no sequential scan of product; no sort where an index holds the order',
    async (_label, _page, { input, paged }) => {
      const full = paged ? { ...input, cursor: cursorFor(input) } : input;
      const indexes = orderingIndexes(input);
      // With sorting disabled, a plan still containing a Sort proves that no index could give the order;
      // on 60 rows the planner would otherwise rightly prefer a bitmap scan and a quick sort.
      const plan = await explain(full, { sortOff: indexes !== null });
      expect(
        plan.filter((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === 'product'),
        summary(plan),
      ).toEqual([]);
      if (indexes) {
        expect(
          plan.filter((n) => n['Node Type'].includes('Sort')),
          summary(plan),
        ).toEqual([]);
        const used = plan.map((n) => n['Index Name']).filter(Boolean);
        expect(used, summary(plan)).toHaveLength(1);
        expect(indexes, summary(plan)).toContain(used[0]);
        // After a cursor, the keyset condition must bound the index scan itself (an Index Cond), not
        // filter rows read from the start: otherwise deep pages would get slower and slower.
        const scan = plan.find((n) => n['Index Name']);
        if (paged) expect(scan?.['Index Cond'], summary(plan)).toMatch(/ROW\(|\(id < /);
      }
    },
  );

  it('covers every combination: 4 sorts x 2 category x 4 price x 2 search + relevance x 2 x 4, each paged or not', () => {
    expect(combos).toHaveLength((4 * 2 * 4 * 2 + 2 * 4) * 2);
  });
});
