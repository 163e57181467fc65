import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../api';
import { ErrorNote, Loading, PageTitle, StatusBadge } from '../components';
import { formatDateTime, formatKRW } from '../format';
import { Link } from '../router';
import { useSession } from '../session';
import { HoldCountdown } from './Order';

export function OrdersPage() {
  const trpc = useTRPC();
  const session = useSession();
  const orders = useQuery(
    trpc.order.list.queryOptions(
      { limit: 50 },
      {
        enabled: session !== null,
        refetchInterval: (query) =>
          query.state.data?.items.some((o) => o.status === 'PENDING_PAYMENT') ? 1000 : false,
      },
    ),
  );
  if (!session) return <p>Sign in (top of the page) to see your orders.</p>;
  return (
    <section>
      <PageTitle>My orders</PageTitle>
      {orders.isPending && <Loading what="your orders" />}
      {orders.error && <ErrorNote error={orders.error} onRetry={() => orders.refetch()} />}
      {orders.data && orders.data.items.length === 0 && (
        <p>
          No orders yet. <Link to="/">Browse products</Link>.
        </p>
      )}
      {orders.data && orders.data.items.length > 0 && (
        <ul className="list">
          {orders.data.items.map((o) => (
            <li key={o.orderId} className="list-item" data-order-id={o.orderId}>
              <Link to={`/orders/${o.orderId}`}>Order of {formatDateTime(o.createdAt)}</Link>
              <span className="price">{formatKRW(o.payAmount)}</span>
              <StatusBadge status={o.status} />
              <HoldCountdown order={o} />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
