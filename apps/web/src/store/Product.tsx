/**
 * One product, its stock kept live (`catalog.onStockChange`): an order or a restock anywhere shows here
 * without a reload. A view is recorded once per visit.
 */
import { skipToken, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useEffect, useState } from 'react';
import { Link, useLocation, useNavigate, useParams } from 'react-router';
import { track } from '../analytics.ts';
import { errorInfo } from '../errors.ts';
import { useLive } from '../live.ts';
import { signInPath, useMe } from '../session.tsx';
import { useTRPC } from '../trpc.ts';
import { Field, fieldIssues } from '../ui/form.tsx';
import { money } from '../ui/format.ts';
import { ErrorNotice, LiveIndicator, Loading } from '../ui/status.tsx';
import { useCartAnswer } from './cartCache.ts';
import { hideBroken } from './images.ts';
import './store.css';

export default function Product() {
  const { slug = '' } = useParams();
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const location = useLocation();
  const { me } = useMe();
  const product = useQuery(trpc.catalog.get.queryOptions({ slug }));
  const id = product.data?.id;
  const [liveStock, setLiveStock] = useState<number | null>(null);
  const [quantity, setQuantity] = useState('1');
  const [added, setAdded] = useState(false);

  // On a (re)start the product is read again and shown as read, until the next pushed change.
  const resync = () =>
    queryClient.refetchQueries({ queryKey: trpc.catalog.get.queryKey({ slug }) }).then(() => setLiveStock(null));
  const live = useLive(
    trpc.catalog.onStockChange.subscriptionOptions(id ? { productIds: [id] } : skipToken, {
      onData: (event) => setLiveStock(event.data.stock),
    }),
    resync,
  );

  const recordView = useMutation(trpc.catalog.recordView.mutationOptions());
  const { mutate: record } = recordView;
  useEffect(() => {
    if (!id) return;
    setLiveStock(null);
    record({ id });
    track({ name: 'product_viewed', productId: id });
  }, [id, record]);

  const cartAnswer = useCartAnswer();
  const addItem = useMutation(
    trpc.cart.addItem.mutationOptions({
      onSuccess: async (cart) => {
        await cartAnswer(cart);
        setAdded(true);
        if (id) track({ name: 'add_to_cart', productId: id, props: { quantity: Number(quantity) } });
      },
    }),
  );

  if (product.isPending) return <Loading what="Loading the product" />;
  if (product.error) {
    return (
      <section>
        <h1>{errorInfo(product.error).code === 'NOT_FOUND' ? 'Product not found' : 'Product'}</h1>
        <ErrorNotice error={product.error} />
        <Link to="/">Back to the catalogue</Link>
      </section>
    );
  }
  const p = product.data;
  const stock = liveStock ?? p.stock;
  const add = (e: FormEvent) => {
    e.preventDefault();
    setAdded(false);
    if (!me) {
      navigate(signInPath(location.pathname));
      return;
    }
    addItem.mutate({ productId: p.id, quantity: Number(quantity) });
  };
  const issues = fieldIssues(addItem.error);
  return (
    <article className="product">
      <div>{p.imageUrls[0] ? <img src={p.imageUrls[0]} alt="" onError={hideBroken} /> : null}</div>
      <div className="stack">
        <h1>{p.name}</h1>
        <p className="muted">{p.category}</p>
        <p className="price">{money(p.priceCents, p.currency)}</p>
        <p>{p.description}</p>
        <p className="row">
          <span className="stock" data-testid="stock">
            {stock > 0 ? `In stock: ${stock}` : 'Out of stock'}
          </span>
          <LiveIndicator state={live.status} label="Live stock" />
        </p>
        <form className="inline" onSubmit={add}>
          <Field
            label="Quantity"
            type="number"
            min={1}
            max={99}
            value={quantity}
            onChange={(e) => setQuantity(e.target.value)}
            issue={issues.quantity}
            required
          />
          <button type="submit" disabled={addItem.isPending || stock === 0}>
            {me ? 'Add to cart' : 'Sign in to buy'}
          </button>
        </form>
        {Object.keys(issues).length === 0 ? <ErrorNotice error={addItem.error} /> : null}
        {added ? (
          <p role="status" className="ok">
            Added to your cart. <Link to="/cart">View cart</Link>
          </p>
        ) : null}
      </div>
    </article>
  );
}
