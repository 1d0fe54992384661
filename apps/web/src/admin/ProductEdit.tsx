/**
 * A product's admin page: `/admin/products/new` creates one; `/admin/products/:id` edits its fields,
 * archives or restores it, restocks it (or corrects the stock) and shows its stock ledger.
 */
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { RequireAdmin } from '../session.tsx';
import { type RouterOutputs, useTRPC } from '../trpc.ts';
import { Field, fieldIssues } from '../ui/form.tsx';
import { dateTime, money } from '../ui/format.ts';
import { ErrorNotice, Loading } from '../ui/status.tsx';
import { AdminNav } from './AdminNav.tsx';

type Product = RouterOutputs['catalog']['get'];

interface FormValues {
  slug: string;
  name: string;
  description: string;
  category: string;
  price: string;
  imageUrl: string;
}

const valuesOf = (p: Product | null): FormValues => ({
  slug: p?.slug ?? '',
  name: p?.name ?? '',
  description: p?.description ?? '',
  category: p?.category ?? 'general',
  price: p ? (p.priceCents / 100).toFixed(2) : '',
  imageUrl: p?.imageUrls[0] ?? '',
});

const fieldsOf = (v: FormValues) => ({
  slug: v.slug.trim(),
  name: v.name.trim(),
  description: v.description,
  category: v.category.trim(),
  priceCents: Math.round(Number(v.price) * 100),
  imageUrls: v.imageUrl.trim() ? [v.imageUrl.trim()] : [],
});

function ProductForm({
  product,
  onSubmit,
  error,
  pending,
  extra,
}: {
  product: Product | null;
  onSubmit: (v: FormValues & { stock: string }) => void;
  error: unknown;
  pending: boolean;
  extra?: boolean;
}) {
  const [v, setV] = useState({ ...valuesOf(product), stock: '0' });
  const set = (k: keyof typeof v) => (e: { target: { value: string } }) => setV({ ...v, [k]: e.target.value });
  const issues = fieldIssues(error);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onSubmit(v);
  };
  return (
    <form onSubmit={submit}>
      <Field label="Name" value={v.name} onChange={set('name')} issue={issues.name} required />
      <Field
        label="Slug"
        value={v.slug}
        onChange={set('slug')}
        issue={issues.slug}
        hint="lower-case-words-like-this"
        required
      />
      <div className="field">
        <label htmlFor="p-description">Description</label>
        <textarea id="p-description" rows={4} value={v.description} onChange={set('description')} />
        {issues.description ? <small className="issue">{issues.description}</small> : null}
      </div>
      <Field label="Category" value={v.category} onChange={set('category')} issue={issues.category} required />
      <Field
        label="Price"
        type="number"
        min="0"
        step="0.01"
        value={v.price}
        onChange={set('price')}
        issue={issues.priceCents}
        required
      />
      <Field
        label="Image URL (https)"
        type="url"
        value={v.imageUrl}
        onChange={set('imageUrl')}
        issue={issues['imageUrls.0']}
      />
      {extra ? (
        <Field
          label="Initial stock"
          type="number"
          min="0"
          value={v.stock}
          onChange={set('stock')}
          issue={issues.stock}
        />
      ) : null}
      <button type="submit" disabled={pending}>
        {product ? 'Save changes' : 'Create the product'}
      </button>
      {Object.keys(issues).length === 0 ? <ErrorNotice error={error} /> : null}
    </form>
  );
}

function NewProduct() {
  const trpc = useTRPC();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const create = useMutation(
    trpc.catalog.create.mutationOptions({
      onSuccess: (p) => {
        void queryClient.invalidateQueries({ queryKey: trpc.catalog.pathKey() });
        navigate(`/admin/products/${p.id}`);
      },
    }),
  );
  return (
    <ProductForm
      product={null}
      extra
      error={create.error}
      pending={create.isPending}
      onSubmit={(v) => create.mutate({ ...fieldsOf(v), stock: Number(v.stock) })}
    />
  );
}

function Ledger({ productId }: { productId: string }) {
  const trpc = useTRPC();
  const ledger = useInfiniteQuery(
    trpc.catalog.stockAdjustments.infiniteQueryOptions(
      { productId, limit: 20 },
      { getNextPageParam: (p) => p.nextCursor ?? undefined },
    ),
  );
  if (ledger.isPending) return <Loading what="Loading the stock ledger" />;
  if (ledger.error) return <ErrorNotice error={ledger.error} />;
  const items = ledger.data.pages.flatMap((p) => p.items);
  return (
    <>
      <table>
        <caption>Stock ledger (orders are in the orders)</caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Change</th>
            <th scope="col" className="num">
              Units
            </th>
            <th scope="col">By</th>
          </tr>
        </thead>
        <tbody>
          {items.map((a) => (
            <tr key={a.id}>
              <td>{dateTime(a.at)}</td>
              <td>{a.reason}</td>
              <td className="num">{a.delta > 0 ? `+${a.delta}` : a.delta}</td>
              <td>{a.actorEmail ?? '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {ledger.hasNextPage ? (
        <button type="button" className="secondary" onClick={() => void ledger.fetchNextPage()}>
          Older
        </button>
      ) : null}
    </>
  );
}

function EditProduct({ id }: { id: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  // getAny: archived products too, which the store's catalog.get does not serve.
  const one = useQuery(trpc.catalog.getAny.queryOptions({ id }));
  const changed = (p: Product) => {
    queryClient.setQueryData(trpc.catalog.getAny.queryKey({ id }), p);
    void queryClient.invalidateQueries({ queryKey: trpc.catalog.pathKey() });
  };
  const update = useMutation(trpc.catalog.update.mutationOptions({ onSuccess: changed }));
  const archive = useMutation(trpc.catalog.archive.mutationOptions({ onSuccess: changed }));
  const restock = useMutation(
    trpc.catalog.restock.mutationOptions({
      onSuccess: (p) => {
        changed(p);
        void queryClient.invalidateQueries({ queryKey: trpc.catalog.stockAdjustments.pathKey() });
      },
    }),
  );
  const [delta, setDelta] = useState('10');
  if (one.isPending) return <Loading what="Loading the product" />;
  if (one.error) return <ErrorNotice error={one.error} />;
  const p = one.data;
  const restockIssues = fieldIssues(restock.error);
  return (
    <div className="stack">
      <p className="row">
        <span>
          {money(p.priceCents, p.currency)} · <strong data-testid="admin-stock">{p.stock}</strong> in stock ·{' '}
          {p.archivedAt ? <span className="warn">archived</span> : 'listed'}
        </span>
        {p.archivedAt ? null : <Link to={`/products/${encodeURIComponent(p.slug)}`}>View in the store</Link>}
      </p>
      <div className="grid">
        <div className="panel">
          <h2>Details</h2>
          <ProductForm
            key={p.updatedAt.getTime()}
            product={p}
            error={update.error}
            pending={update.isPending}
            onSubmit={(v) => update.mutate({ id, ...fieldsOf(v) })}
          />
          {update.isSuccess ? (
            <p role="status" className="ok">
              Saved.
            </p>
          ) : null}
        </div>
        <div className="panel stack">
          <h2>Stock</h2>
          <form
            className="inline"
            onSubmit={(e) => {
              e.preventDefault();
              restock.mutate({ productId: id, delta: Number(delta) });
            }}
          >
            <Field
              label="Units to add (negative to correct)"
              type="number"
              value={delta}
              onChange={(e) => setDelta(e.target.value)}
              issue={restockIssues.delta}
              required
            />
            <button type="submit" disabled={restock.isPending}>
              Restock
            </button>
          </form>
          {Object.keys(restockIssues).length === 0 ? <ErrorNotice error={restock.error} /> : null}
          <h2>Listing</h2>
          <p>
            <button
              type="button"
              className="secondary"
              onClick={() => archive.mutate({ id, archived: !p.archivedAt })}
              disabled={archive.isPending}
            >
              {p.archivedAt ? 'Restore to the catalogue' : 'Archive'}
            </button>
          </p>
          <ErrorNotice error={archive.error} />
        </div>
      </div>
      <Ledger productId={id} />
    </div>
  );
}

export default function ProductEdit() {
  const { id } = useParams();
  return (
    <RequireAdmin>
      {() => (
        <section>
          <h1>{id ? 'Product' : 'New product'}</h1>
          <AdminNav />
          {id ? <EditProduct id={id} key={id} /> : <NewProduct />}
        </section>
      )}
    </RequireAdmin>
  );
}
