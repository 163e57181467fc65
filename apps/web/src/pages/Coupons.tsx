import { useQueries } from '@tanstack/react-query';
import { useState } from 'react';
import { type Coupon, useTRPC } from '../api';
import { Countdown, ErrorNote, Loading, PageTitle } from '../components';
import { formatDiscount, formatValidity } from '../format';
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
  // Pages by cursor, as the catalog does (tRPC's infinite queries send fields the API refuses).
  const [cursors, setCursors] = useState<(number | undefined)[]>([undefined]);
  const pages = useQueries({
    queries: cursors.map((cursor) =>
      trpc.coupon.list.queryOptions({ limit: 20, cursor }, { refetchInterval: 5000 }),
    ),
  });
  const now = useNow();
  const items = pages.flatMap((p) => p.data?.items ?? []);
  const nextCursor = pages[pages.length - 1]?.data?.nextCursor ?? null;
  const failed = pages.find((p) => p.error);
  return (
    <section>
      <PageTitle>Coupon sales</PageTitle>
      {pages[0]?.isPending && <Loading what="coupons" />}
      {failed && <ErrorNote error={failed.error} onRetry={() => failed.refetch()} />}
      {pages[0]?.isSuccess && items.length === 0 && <p className="muted">No coupon sales right now.</p>}
      <ul className="grid">
        {items.map((c) => {
          const phase = salePhase(c, now);
          return (
            <li key={c.id} className="card" data-coupon-id={c.id}>
              <h2 className="card-title">
                <Link to={`/coupons/${c.id}`}>{c.name}</Link>
              </h2>
              <p className="discount">{formatDiscount(c.discount)}</p>
              <p className="muted">{formatValidity(c.validDays)}</p>
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
      {nextCursor !== null && (
        <button
          type="button"
          className="button-secondary"
          onClick={() => setCursors([...cursors, nextCursor])}
        >
          Show more coupons
        </button>
      )}
    </section>
  );
}
