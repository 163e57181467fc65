import { useInfiniteQuery } from '@tanstack/react-query';
import { type Coupon, useTRPC } from '../api';
import { Countdown, ErrorNote, Loading, PageTitle } from '../components';
import { formatDiscount } from '../format';
import { useNow } from '../hooks';
import { Link } from '../router';

export type SalePhase = 'upcoming' | 'open' | 'sold-out' | 'ended';

export function salePhase(coupon: Coupon, now: number): SalePhase {
  if (coupon.issueStartsAt && now < new Date(coupon.issueStartsAt).getTime()) return 'upcoming';
  if (coupon.issueEndsAt && now >= new Date(coupon.issueEndsAt).getTime()) return 'ended';
  return coupon.remaining <= 0 ? 'sold-out' : 'open';
}

export function CouponsPage() {
  const trpc = useTRPC();
  const coupons = useInfiniteQuery(
    trpc.coupon.list.infiniteQueryOptions(
      { limit: 20 },
      { getNextPageParam: (page) => page.nextCursor, refetchInterval: 5000 },
    ),
  );
  const now = useNow();
  const items = coupons.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <section>
      <PageTitle>Coupon sales</PageTitle>
      {coupons.isPending && <Loading what="coupons" />}
      {coupons.error && <ErrorNote error={coupons.error} onRetry={() => coupons.refetch()} />}
      {coupons.isSuccess && items.length === 0 && <p className="muted">No coupon sales right now.</p>}
      <ul className="grid">
        {items.map((c) => {
          const phase = salePhase(c, now);
          return (
            <li key={c.id} className="card" data-coupon-id={c.id}>
              <h2 className="card-title">
                <Link to={`/coupons/${c.id}`}>{c.name}</Link>
              </h2>
              <p className="discount">{formatDiscount(c.discount)}</p>
              <p>
                {c.remaining.toLocaleString('en-US')} of {c.totalQuantity.toLocaleString('en-US')} left
              </p>
              {phase === 'upcoming' && c.issueStartsAt && <Countdown to={c.issueStartsAt} label="Opens in" />}
              {phase === 'open' && <p className="tag tag-open">Open now</p>}
              {phase === 'sold-out' && <p className="tag">Sold out</p>}
            </li>
          );
        })}
      </ul>
      {coupons.hasNextPage && (
        <button
          type="button"
          className="button-secondary"
          onClick={() => coupons.fetchNextPage()}
          disabled={coupons.isFetchingNextPage}
        >
          Show more coupons
        </button>
      )}
    </section>
  );
}
