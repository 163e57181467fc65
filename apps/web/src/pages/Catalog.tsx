import { useInfiniteQuery } from '@tanstack/react-query';
import { type Product, useTRPC } from '../api';
import { addToCart } from '../cart';
import { ErrorNote, Loading, PageTitle } from '../components';
import { formatKRW } from '../format';
import { Link } from '../router';

const PAGE_SIZE = 12;

export function CatalogPage() {
  const trpc = useTRPC();
  const products = useInfiniteQuery(
    trpc.product.list.infiniteQueryOptions(
      { limit: PAGE_SIZE },
      // Live stock: every loaded page is read again every few seconds.
      { getNextPageParam: (page) => page.nextCursor, refetchInterval: 5000 },
    ),
  );
  const items = products.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <section aria-labelledby="catalog-title">
      <PageTitle>
        <span id="catalog-title">Products</span>
      </PageTitle>
      {products.isPending && <Loading what="products" />}
      {products.error && <ErrorNote error={products.error} onRetry={() => products.refetch()} />}
      {products.isSuccess && items.length === 0 && <p className="muted">No products yet.</p>}
      <ul className="grid">
        {items.map((p) => (
          <ProductCard key={p.id} product={p} />
        ))}
      </ul>
      {products.hasNextPage && (
        <button
          type="button"
          className="button-secondary"
          onClick={() => products.fetchNextPage()}
          disabled={products.isFetchingNextPage}
        >
          {products.isFetchingNextPage ? 'Loading…' : 'Show more products'}
        </button>
      )}
    </section>
  );
}

export function StockLine(props: { stock: number }) {
  if (props.stock <= 0) return <p className="stock stock-out">Sold out</p>;
  return <p className="stock">{props.stock.toLocaleString('en-US')} in stock</p>;
}

function ProductCard(props: { product: Product }) {
  const p = props.product;
  return (
    <li className="card" data-product-id={p.id}>
      <h2 className="card-title">
        <Link to={`/products/${p.id}`}>{p.name}</Link>
      </h2>
      <p className="price">{formatKRW(p.price)}</p>
      <StockLine stock={p.stock} />
      <button
        type="button"
        onClick={() => addToCart(p.id)}
        disabled={p.stock <= 0}
        aria-label={`Add ${p.name} to cart`}
      >
        Add to cart
      </button>
    </li>
  );
}
