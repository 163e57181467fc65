import { useQueries } from '@tanstack/react-query';
import { useState } from 'react';
import { type Product, useTRPC } from '../api';
import { addToCart } from '../cart';
import { ErrorNote, Loading, PageTitle, ProductImage } from '../components';
import { formatKRW } from '../format';
import { Link } from '../router';

const PAGE_SIZE = 12;

export function CatalogPage() {
  const trpc = useTRPC();
  // One query per page, keyed by its cursor. (tRPC's infiniteQueryOptions adds a `direction`
  // field to the input, which the API's strict input schemas refuse.)
  const [cursors, setCursors] = useState<(number | undefined)[]>([undefined]);
  const pages = useQueries({
    queries: cursors.map((cursor) =>
      // Live stock: every page shown is read again every few seconds.
      trpc.product.list.queryOptions({ limit: PAGE_SIZE, cursor }, { refetchInterval: 5000 }),
    ),
  });
  const items = pages.flatMap((p) => p.data?.items ?? []);
  const last = pages[pages.length - 1];
  const nextCursor = last?.data?.nextCursor ?? null;
  const failed = pages.find((p) => p.error);
  return (
    <section aria-labelledby="catalog-title">
      <PageTitle>
        <span id="catalog-title">Products</span>
      </PageTitle>
      {pages[0]?.isPending && <Loading what="products" />}
      {failed && <ErrorNote error={failed.error} onRetry={() => failed.refetch()} />}
      {pages[0]?.isSuccess && items.length === 0 && <p className="muted">No products yet.</p>}
      <ul className="grid">
        {items.map((p) => (
          <ProductCard key={p.id} product={p} />
        ))}
      </ul>
      {cursors.length > 1 && last?.isPending && <Loading what="more products" />}
      {nextCursor !== null && (
        <button
          type="button"
          className="button-secondary"
          onClick={() => setCursors([...cursors, nextCursor])}
        >
          Show more products
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
      <ProductImage product={p} />
      <h2 className="card-title">
        <Link to={`/products/${p.id}`}>{p.name}</Link>
      </h2>
      <p className="price">{formatKRW(p.price)}</p>
      <StockLine stock={p.stock} />
      <button type="button" onClick={() => addToCart(p.id)} disabled={p.stock <= 0}>
        Add<span className="visually-hidden"> {p.name}</span> to cart
      </button>
    </li>
  );
}
