import { useMutation, useQueries, useQuery, useQueryClient } from '@tanstack/react-query';
import { type Order, useTRPC } from '../api';
import { Countdown, ErrorNote, Loading, PageTitle, StatusBadge } from '../components';
import { formatDateTime, formatKRW } from '../format';
import { Link } from '../router';
import { useSession } from '../session';

/** Names of the products on an order (the order carries ids and prices only). */
export function useProductNames(productIds: number[]): (productId: number) => string {
  const trpc = useTRPC();
  const unique = [...new Set(productIds)];
  const products = useQueries({
    queries: unique.map((productId) => trpc.product.get.queryOptions({ productId }, { staleTime: 60_000 })),
  });
  return (productId) =>
    products[unique.indexOf(productId)]?.data?.name ?? `Product ${productId.toLocaleString('en-US')}`;
}

export function HoldCountdown(props: { order: Order }) {
  if (props.order.status !== 'PENDING_PAYMENT') return null;
  return (
    <Countdown
      to={props.order.expiresAt}
      label="Pay within"
      onDone={<span className="countdown">The hold has run out; the order expires now.</span>}
    />
  );
}

export function OrderPage(props: { orderId: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const session = useSession();
  const order = useQuery(
    trpc.order.get.queryOptions(
      { orderId: props.orderId },
      {
        enabled: session !== null,
        // While unpaid the order may expire any second: follow it.
        refetchInterval: (query) => (query.state.data?.status === 'PENDING_PAYMENT' ? 1000 : false),
      },
    ),
  );
  const names = useProductNames(order.data?.items.map((i) => i.productId) ?? []);
  const pay = useMutation(
    trpc.payment.pay.mutationOptions({
      onSettled: () =>
        Promise.all([
          queryClient.invalidateQueries(trpc.order.pathFilter()),
          queryClient.invalidateQueries(trpc.balance.get.queryFilter()),
          queryClient.invalidateQueries(trpc.coupon.mine.queryFilter()),
        ]),
    }),
  );

  if (!session) return <p>Sign in (top of the page) to see your orders.</p>;
  if (order.isPending) return <Loading what="the order" />;
  if (order.error) return <ErrorNote error={order.error} onRetry={() => order.refetch()} />;
  const o = order.data;
  // One key per order: paying twice (two clicks, two tabs, a retry) is one payment.
  const payOrder = () => pay.mutate({ orderId: o.orderId, idempotencyKey: `pay:${o.orderId}` });
  return (
    <article className="panel">
      <PageTitle>Order</PageTitle>
      <p className="order-id muted">
        Placed {formatDateTime(o.createdAt)}
        <br />
        Order number <code>{o.orderId}</code>
      </p>
      <p className="order-status">
        Status <StatusBadge status={o.status} /> <HoldCountdown order={o} />
      </p>
      <div className="table-wrap">
        <table className="table">
          <caption className="visually-hidden">Order lines</caption>
          <thead>
            <tr>
              <th scope="col">Product</th>
              <th scope="col">Unit price</th>
              <th scope="col">Quantity</th>
            </tr>
          </thead>
          <tbody>
            {o.items.map((item) => (
              <tr key={item.productId}>
                <td>
                  <Link to={`/products/${item.productId}`}>{names(item.productId)}</Link>
                </td>
                <td>{formatKRW(item.unitPrice)}</td>
                <td>{item.quantity.toLocaleString('en-US')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <dl className="facts totals">
        <dt>Total</dt>
        <dd>{formatKRW(o.totalAmount)}</dd>
        <dt>Coupon discount</dt>
        <dd>{o.discountAmount > 0 ? `− ${formatKRW(o.discountAmount)}` : '—'}</dd>
        <dt>To pay</dt>
        <dd>
          <strong data-testid="pay-amount">{formatKRW(o.payAmount)}</strong>
        </dd>
      </dl>
      {o.status === 'PENDING_PAYMENT' && (
        <button type="button" className="button-large" onClick={payOrder} disabled={pay.isPending}>
          {pay.isPending ? 'Paying…' : `Pay ${formatKRW(o.payAmount)}`}
        </button>
      )}
      {pay.isSuccess && (
        <p className="notice notice-success" role="status">
          Paid. Your balance is now {formatKRW(pay.data.balance)}.
        </p>
      )}
      {pay.isPending && pay.failureReason && <ErrorNote error={pay.failureReason} waiting />}
      {pay.error && (
        <ErrorNote
          error={pay.error}
          onRetry={payOrder}
          retrying={pay.isPending}
          extra={
            pay.error.data?.appCode === 'INSUFFICIENT_BALANCE' ? (
              <Link to="/balance">Charge balance</Link>
            ) : undefined
          }
        />
      )}
    </article>
  );
}
