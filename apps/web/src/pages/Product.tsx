import { useQuery } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { useTRPC } from '../api';
import { addToCart, MAX_QUANTITY } from '../cart';
import { ErrorNote, Loading, PageTitle, ProductImage } from '../components';
import { formatKRW } from '../format';
import { Link } from '../router';
import { StockLine } from './Catalog';

export function ProductPage(props: { productId: number }) {
  const trpc = useTRPC();
  const product = useQuery(
    trpc.product.get.queryOptions({ productId: props.productId }, { refetchInterval: 2000 }),
  );
  const [quantity, setQuantity] = useState(1);
  const [added, setAdded] = useState<number | null>(null);
  const quantityId = useId();

  if (product.isPending) return <Loading what="the product" />;
  if (product.error) return <ErrorNote error={product.error} onRetry={() => product.refetch()} />;
  const p = product.data;
  return (
    <article className="panel product-detail">
      <ProductImage product={p} size="large" />
      <div className="product-facts">
        <PageTitle>{p.name}</PageTitle>
        <p className="price price-large">{formatKRW(p.price)}</p>
        <StockLine stock={p.stock} />
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault();
            addToCart(p.id, quantity);
            setAdded(quantity);
          }}
        >
          <label htmlFor={quantityId}>Quantity</label>
          <input
            id={quantityId}
            type="number"
            min={1}
            max={Math.min(MAX_QUANTITY, Math.max(1, p.stock))}
            value={quantity}
            onChange={(e) => setQuantity(Math.max(1, Math.floor(Number(e.target.value) || 1)))}
          />
          <button type="submit" disabled={p.stock <= 0}>
            Add to cart
          </button>
        </form>
        {added !== null && (
          <p className="notice" role="status">
            Added {added} to your cart. <Link to="/cart">Go to cart</Link>
          </p>
        )}
      </div>
    </article>
  );
}
