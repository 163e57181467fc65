import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../api';
import { ErrorNote, Loading, PageTitle } from '../components';
import { formatKRW } from '../format';
import { Link } from '../router';

export function TopPage() {
  const trpc = useTRPC();
  const top = useQuery(trpc.product.top.queryOptions(undefined, { refetchInterval: 10_000 }));
  return (
    <section>
      <PageTitle>Top 5 of the last 3 days</PageTitle>
      {top.isPending && <Loading what="the ranking" />}
      {top.error && <ErrorNote error={top.error} onRetry={() => top.refetch()} />}
      {top.data && top.data.items.length === 0 && (
        <p className="muted">Nothing sold in the last 3 days yet.</p>
      )}
      {top.data && top.data.items.length > 0 && (
        <ol className="ranking">
          {top.data.items.map((item, i) => (
            <li key={item.productId}>
              <span className="rank" aria-hidden="true">
                {i + 1}
              </span>
              <Link to={`/products/${item.productId}`}>{item.name}</Link>
              <span className="price">{formatKRW(item.price)}</span>
              <span className="muted">{item.soldQuantity.toLocaleString('en-US')} sold</span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
