import { Link } from 'react-router';
import type { RouterOutputs } from '../trpc.ts';
import { money } from '../ui/format.ts';
import { hideBroken } from './images.ts';

type Product = RouterOutputs['catalog']['get'];

export function ProductCard({ product }: { product: Product }) {
  const image = product.imageUrls[0];
  return (
    <li className="card product-card">
      {image ? <img src={image} alt="" loading="lazy" onError={hideBroken} /> : null}
      <Link to={`/products/${encodeURIComponent(product.slug)}`}>{product.name}</Link>
      <span className="muted">{product.category}</span>
      <span className="price">{money(product.priceCents, product.currency)}</span>
      <span className={product.stock > 0 ? 'muted' : 'warn'}>
        {product.stock > 0 ? `${product.stock} in stock` : 'Out of stock'}
      </span>
    </li>
  );
}
