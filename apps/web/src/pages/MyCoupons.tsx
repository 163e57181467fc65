import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../api';
import { ErrorNote, Loading, PageTitle, StatusBadge } from '../components';
import { daysLeft, formatDate, formatDateTime, formatDiscount } from '../format';
import { useNow } from '../hooks';
import { Link } from '../router';
import { useSession } from '../session';

export function MyCouponsPage() {
  const trpc = useTRPC();
  const session = useSession();
  const mine = useQuery(trpc.coupon.mine.queryOptions(undefined, { enabled: session !== null }));
  const now = useNow(60_000);
  if (!session) return <p>Sign in (top of the page) to see your coupons.</p>;
  return (
    <section>
      <PageTitle>My coupons</PageTitle>
      {mine.isPending && <Loading what="your coupons" />}
      {mine.error && <ErrorNote error={mine.error} onRetry={() => mine.refetch()} />}
      {mine.data && mine.data.items.length === 0 && (
        <p>
          No coupons yet. <Link to="/coupons">See the coupon sales</Link>.
        </p>
      )}
      {mine.data && mine.data.items.length > 0 && (
        <ul className="list">
          {mine.data.items.map((c) => (
            <li key={c.couponId} className="list-item" data-coupon-id={c.couponId}>
              <span className="list-main">
                <strong>{c.name}</strong> <span className="discount">{formatDiscount(c.discount)}</span>
              </span>
              <span className="coupon-dates">
                <span className="muted">claimed {formatDateTime(c.issuedAt)}</span>
                <span className="expiry" data-testid="expiry">
                  {c.expiresAt === null
                    ? 'no expiry'
                    : c.status === 'AVAILABLE'
                      ? `valid until ${formatDate(c.expiresAt)} (${daysLeft(c.expiresAt, now)} ${daysLeft(c.expiresAt, now) === 1 ? 'day' : 'days'} left)`
                      : `${c.status === 'EXPIRED' ? 'expired' : 'was valid until'} ${formatDate(c.expiresAt)}`}
                </span>
              </span>
              <StatusBadge status={c.status} />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
