import { keepPreviousData, useMutation, useQueries, useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useRef, useState } from 'react';
import { newIdempotencyKey, useTRPC } from '../api';
import { clearCart, MAX_QUANTITY, setQuantity, useCart } from '../cart';
import { ErrorNote, Loading, PageTitle } from '../components';
import { describeError } from '../errors';
import { formatDiscount, formatKRW } from '../format';
import { useSettled } from '../hooks';
import { Link, navigate } from '../router';
import { useSession } from '../session';

export function CartPage() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const session = useSession();
  const lines = useCart();
  const products = useQueries({
    queries: lines.map((l) => trpc.product.get.queryOptions({ productId: l.productId })),
  });
  const mine = useQuery(trpc.coupon.mine.queryOptions(undefined, { enabled: session !== null }));
  const usable = mine.data?.items.filter((c) => c.status === 'AVAILABLE') ?? [];
  const [couponId, setCouponId] = useState<number | undefined>(undefined);
  const couponSelectId = useId();
  // The price order.create would charge, asked again once the cart or the coupon settles; the
  // last answer stays on screen (marked as updating) meanwhile.
  const cart = {
    items: lines.map((l) => ({ productId: l.productId, quantity: l.quantity })),
    ...(couponId === undefined ? {} : { couponId }),
  };
  const settled = useSettled(cart, 250);
  const upToDate = JSON.stringify(settled) === JSON.stringify(cart);
  const quote = useQuery(
    trpc.order.quote.queryOptions(settled, {
      enabled: session !== null && settled.items.length > 0,
      placeholderData: keepPreviousData,
    }),
  );
  // One key per checkout: a repeated or retried click replays the first order instead of
  // placing a second one. A new key once an order was placed.
  const key = useRef<string | null>(null);
  const order = useMutation(
    trpc.order.create.mutationOptions({
      onSuccess: (created) => {
        key.current = null;
        clearCart();
        void queryClient.invalidateQueries(trpc.order.list.queryFilter());
        void queryClient.invalidateQueries(trpc.coupon.mine.queryFilter());
        navigate(`/orders/${created.orderId}`);
      },
      onError: (error) => {
        // The key already stands for another cart (an earlier answer was lost): start afresh.
        if (describeError(error).code === 'IDEMPOTENCY_KEY_REUSED') key.current = null;
      },
    }),
  );

  if (lines.length === 0) {
    return (
      <section>
        <PageTitle>Cart</PageTitle>
        <p>
          Your cart is empty. <Link to="/">Browse products</Link>.
        </p>
      </section>
    );
  }

  const nameOf = (productId: number) =>
    products.find((p) => p.data?.id === productId)?.data?.name ?? `product ${productId}`;
  const subtotal = lines.reduce((sum, l, i) => sum + (products[i]?.data?.price ?? 0) * l.quantity, 0);
  const problem = order.error ? describeError(order.error) : undefined;
  const placeOrder = () => {
    key.current ??= newIdempotencyKey();
    order.mutate({
      items: lines.map((l) => ({ productId: l.productId, quantity: l.quantity })),
      couponId,
      idempotencyKey: key.current,
    });
  };

  return (
    <section>
      <PageTitle>Cart</PageTitle>
      <div className="table-wrap">
        <table className="table">
          <caption className="visually-hidden">Products in your cart</caption>
          <thead>
            <tr>
              <th scope="col">Product</th>
              <th scope="col">Price</th>
              <th scope="col">Quantity</th>
              <th scope="col">
                <span className="visually-hidden">Remove</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {lines.map((l, i) => {
              const p = products[i];
              return (
                <tr key={l.productId}>
                  <td>
                    {p?.isPending
                      ? 'Loading…'
                      : p?.error
                        ? describeError(p.error).message
                        : nameOf(l.productId)}
                  </td>
                  <td>{p?.data ? formatKRW(p.data.price) : '—'}</td>
                  <td>
                    <input
                      type="number"
                      className="input-quantity"
                      min={1}
                      max={MAX_QUANTITY}
                      value={l.quantity}
                      aria-label={`Quantity of ${nameOf(l.productId)}`}
                      onChange={(e) =>
                        setQuantity(l.productId, Math.max(1, Math.floor(Number(e.target.value) || 1)))
                      }
                    />
                  </td>
                  <td>
                    <button
                      type="button"
                      className="button-secondary"
                      onClick={() => setQuantity(l.productId, 0)}
                      aria-label={`Remove ${nameOf(l.productId)}`}
                    >
                      Remove
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {!session && (
        <p className="total">
          Subtotal <strong>{formatKRW(subtotal)}</strong>
        </p>
      )}

      {session ? (
        <form
          className="stack"
          onSubmit={(e) => {
            e.preventDefault();
            placeOrder();
          }}
        >
          <div className="field">
            <label htmlFor={couponSelectId}>Coupon</label>
            {mine.isPending ? (
              <Loading what="your coupons" />
            ) : (
              <select
                id={couponSelectId}
                value={couponId ?? ''}
                onChange={(e) => setCouponId(e.target.value ? Number(e.target.value) : undefined)}
              >
                <option value="">No coupon</option>
                {usable.map((c) => (
                  <option key={c.couponId} value={c.couponId}>
                    {c.name} ({formatDiscount(c.discount)})
                  </option>
                ))}
              </select>
            )}
          </div>
          <div className="quote" aria-busy={!upToDate || quote.isFetching} data-testid="quote">
            {quote.data && !quote.isError && (
              <dl className="facts totals">
                <dt>Subtotal</dt>
                <dd data-testid="quote-total">{formatKRW(quote.data.totalAmount)}</dd>
                <dt>Coupon discount</dt>
                <dd data-testid="quote-discount">
                  {quote.data.discountAmount > 0 ? `−${formatKRW(quote.data.discountAmount)}` : formatKRW(0)}
                </dd>
                <dt className="to-pay">To pay</dt>
                <dd className="to-pay" data-testid="quote-pay">
                  {formatKRW(quote.data.payAmount)}
                </dd>
              </dl>
            )}
            {quote.isPending && quote.fetchStatus !== 'idle' && <Loading what="the price" />}
            {quote.error && !quote.isFetching && (
              <ErrorNote error={quote.error} onRetry={() => quote.refetch()} />
            )}
          </div>
          <p className="muted">Placing the order holds the stock for you until you pay.</p>
          <button type="submit" className="button-large" disabled={order.isPending}>
            {order.isPending ? 'Placing order…' : 'Place order'}
          </button>
        </form>
      ) : (
        <p className="muted">
          Sign in (top of the page) to see your price with a coupon and place your order.
        </p>
      )}
      {order.isPending && order.failureReason && <ErrorNote error={order.failureReason} waiting />}
      {order.error && (
        <ErrorNote
          error={order.error}
          onRetry={placeOrder}
          retrying={order.isPending}
          extra={problem?.productId !== undefined ? `(${nameOf(problem.productId)})` : undefined}
        />
      )}
    </section>
  );
}
