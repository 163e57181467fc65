import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTRPC } from '../api';
import { Countdown, ErrorNote, Loading, PageTitle } from '../components';
import { describeError, ERROR_MESSAGES } from '../errors';
import { formatDate, formatDateTime, formatDiscount, formatValidity } from '../format';
import { useNow } from '../hooks';
import { Link } from '../router';
import { useSession } from '../session';
import { salePhase } from './Coupons';

/** The flash-sale page: what is left refreshes every second while the sale can still change. */
export function CouponSalePage(props: { couponId: number }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const session = useSession();
  const now = useNow();
  const coupon = useQuery(
    trpc.coupon.get.queryOptions(
      { couponId: props.couponId },
      {
        refetchInterval: (query) =>
          query.state.data && salePhase(query.state.data, Date.now()) === 'ended' ? false : 1000,
      },
    ),
  );
  const mine = useQuery(trpc.coupon.mine.queryOptions(undefined, { enabled: session !== null }));
  const claim = useMutation(
    trpc.coupon.issue.mutationOptions({
      onSettled: () =>
        Promise.all([
          queryClient.invalidateQueries(trpc.coupon.get.queryFilter({ couponId: props.couponId })),
          queryClient.invalidateQueries(trpc.coupon.mine.queryFilter()),
        ]),
    }),
  );

  if (coupon.isPending) return <Loading what="the coupon" />;
  if (coupon.error) return <ErrorNote error={coupon.error} onRetry={() => coupon.refetch()} />;
  const c = coupon.data;
  const phase = salePhase(c, now);
  const claimError = claim.error ? describeError(claim.error).code : undefined;
  const held = mine.data?.items.find((item) => item.couponId === c.id);
  const claimed = claim.isSuccess || claimError === 'COUPON_ALREADY_ISSUED' || held !== undefined;
  const soldOut = !claimed && (phase === 'sold-out' || claimError === 'COUPON_SOLD_OUT');

  return (
    <article className="panel sale">
      <PageTitle>{c.name}</PageTitle>
      <p className="discount discount-large">{formatDiscount(c.discount)}</p>
      <p className="remaining">
        <strong data-testid="remaining">{c.remaining.toLocaleString('en-US')}</strong> of{' '}
        {c.totalQuantity.toLocaleString('en-US')} left
      </p>
      <dl className="facts">
        {c.issueStartsAt && (
          <>
            <dt>Opens</dt>
            <dd>{formatDateTime(c.issueStartsAt)}</dd>
          </>
        )}
        {c.issueEndsAt && (
          <>
            <dt>Closes</dt>
            <dd>{formatDateTime(c.issueEndsAt)}</dd>
          </>
        )}
        <dt>Valid</dt>
        <dd data-testid="validity">{formatValidity(c.validDays)}</dd>
        {held && (
          <>
            <dt>Yours until</dt>
            <dd data-testid="held-expiry">{held.expiresAt ? formatDate(held.expiresAt) : 'no expiry'}</dd>
          </>
        )}
      </dl>

      <div className="sale-state" role="status">
        {claimed && (
          <p className="notice notice-success">
            You have this coupon. Use it at checkout: <Link to="/cart">go to cart</Link>.
          </p>
        )}
        {!claimed && phase === 'ended' && <p className="notice">This sale has ended.</p>}
        {soldOut && <p className="notice notice-error">{ERROR_MESSAGES.COUPON_SOLD_OUT}</p>}
      </div>
      {/* Outside the live region above: a countdown would be read out every second. */}
      {!claimed && phase === 'upcoming' && c.issueStartsAt && (
        <p className="notice">
          Not open yet. <Countdown to={c.issueStartsAt} label="Opens in" />
        </p>
      )}

      {!claimed && !soldOut && phase === 'open' && session && (
        <button
          type="button"
          className="button-large"
          disabled={claim.isPending}
          onClick={() => claim.mutate({ couponId: c.id })}
        >
          {claim.isPending ? 'Claiming…' : 'Claim coupon'}
        </button>
      )}
      {!claimed && !soldOut && phase === 'open' && !session && (
        <p className="muted">Sign in (top of the page) to claim this coupon.</p>
      )}
      {claim.isPending && claim.failureReason && <ErrorNote error={claim.failureReason} waiting />}
      {claim.error && claimError !== 'COUPON_SOLD_OUT' && claimError !== 'COUPON_ALREADY_ISSUED' && (
        <ErrorNote
          error={claim.error}
          onRetry={() => claim.variables && claim.mutate(claim.variables)}
          retrying={claim.isPending}
        />
      )}
    </article>
  );
}
