import { useInfiniteQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router';
import { RequireAdmin } from '../session.tsx';
import { useTRPC } from '../trpc.ts';
import { money } from '../ui/format.ts';
import { SearchForm } from '../ui/SearchForm.tsx';
import { Empty, ErrorNotice, Loading } from '../ui/status.tsx';
import { AdminNav } from './AdminNav.tsx';

function ProductTable() {
  const trpc = useTRPC();
  const [q, setQ] = useState('');
  const list = useInfiniteQuery(
    trpc.catalog.list.infiniteQueryOptions(
      { limit: 50, includeArchived: true, sort: q ? 'relevance' : 'newest', ...(q ? { q } : {}) },
      { getNextPageParam: (p) => p.nextCursor ?? undefined },
    ),
  );
  const items = list.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <>
      <SearchForm label="Search products" value={q} onSearch={setQ}>
        <Link to="/admin/products/new">New product</Link>
      </SearchForm>
      {list.isPending ? <Loading what="Loading products" /> : null}
      <ErrorNotice error={list.error} />
      {list.isSuccess && items.length === 0 ? <Empty>No products.</Empty> : null}
      {items.length > 0 ? (
        <table>
          <caption className="sr-only">Products, archived ones included</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Category</th>
              <th scope="col" className="num">
                Price
              </th>
              <th scope="col" className="num">
                Stock
              </th>
              <th scope="col">State</th>
            </tr>
          </thead>
          <tbody>
            {items.map((p) => (
              <tr key={p.id}>
                <td>
                  <Link to={`/admin/products/${p.id}`}>{p.name}</Link>
                </td>
                <td>{p.category}</td>
                <td className="num">{money(p.priceCents, p.currency)}</td>
                <td className="num">{p.stock}</td>
                <td>{p.archivedAt ? <span className="warn">archived</span> : 'listed'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {list.hasNextPage ? (
        <button type="button" className="secondary" onClick={() => void list.fetchNextPage()}>
          More
        </button>
      ) : null}
    </>
  );
}

export default function Products() {
  return (
    <RequireAdmin>
      {() => (
        <section>
          <h1>Products</h1>
          <AdminNav />
          <ProductTable />
        </section>
      )}
    </RequireAdmin>
  );
}
