import { useEffect, useRef } from 'react';
import { useCart } from './cart';
import { PageTitle } from './components';
import { BalancePage } from './pages/Balance';
import { CartPage } from './pages/Cart';
import { CatalogPage } from './pages/Catalog';
import { CouponSalePage } from './pages/CouponSale';
import { CouponsPage } from './pages/Coupons';
import { MyCouponsPage } from './pages/MyCoupons';
import { OrderPage } from './pages/Order';
import { OrdersPage } from './pages/Orders';
import { ProductPage } from './pages/Product';
import { TopPage } from './pages/Top';
import { WaitingRoomPage } from './pages/WaitingRoom';
import { Link, type Route, useRoute } from './router';
import { SessionEndedNotice } from './SessionEnded';
import { SignIn } from './SignIn';

const NAV: { to: string; label: string; pages: Route['page'][] }[] = [
  { to: '/', label: 'Products', pages: ['catalog', 'product'] },
  { to: '/top', label: 'Top 5', pages: ['top'] },
  { to: '/coupons', label: 'Coupon sales', pages: ['coupons', 'coupon'] },
  { to: '/cart', label: 'Cart', pages: ['cart'] },
  { to: '/orders', label: 'My orders', pages: ['orders', 'order'] },
  { to: '/my-coupons', label: 'My coupons', pages: ['my-coupons'] },
  { to: '/balance', label: 'Balance', pages: ['balance'] },
];

function Page(props: { route: Route }) {
  const r = props.route;
  switch (r.page) {
    case 'catalog':
      return <CatalogPage />;
    case 'product':
      return <ProductPage productId={r.productId} />;
    case 'top':
      return <TopPage />;
    case 'coupons':
      return <CouponsPage />;
    case 'coupon':
      return <CouponSalePage couponId={r.couponId} />;
    case 'cart':
      return <CartPage />;
    case 'balance':
      return <BalancePage />;
    case 'my-coupons':
      return <MyCouponsPage />;
    case 'orders':
      return <OrdersPage />;
    case 'order':
      return <OrderPage orderId={r.orderId} />;
    case 'waiting-room':
      return <WaitingRoomPage roomId={r.roomId} />;
    case 'not-found':
      return (
        <section>
          <PageTitle>Page not found</PageTitle>
          <p>
            <Link to="/">Back to the products</Link>
          </p>
        </section>
      );
  }
}

export function App() {
  const route = useRoute();
  const cart = useCart();
  const count = cart.reduce((n, l) => n + l.quantity, 0);
  const main = useRef<HTMLElement>(null);
  // A new page moves keyboard and screen-reader focus to its content, as a page load would.
  const first = useRef(true);
  const routeKey = JSON.stringify(route);
  const nav = useRef<HTMLElement>(null);
  useEffect(() => {
    // On a phone the menu is one row that scrolls sideways: keep the current tab in view.
    nav.current
      ?.querySelector('[aria-current="page"]')
      ?.scrollIntoView({ block: 'nearest', inline: 'nearest' });
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.focus();
  }, [routeKey]);

  return (
    <>
      {/* A button, not an anchor: the hash holds the route, so #main would leave the page. */}
      <button type="button" className="skip-link" onClick={() => main.current?.focus()}>
        Skip to content
      </button>
      <header className="site-header">
        <div className="brand">
          <Link to="/">Flash sale</Link>
        </div>
        <SignIn />
      </header>
      <nav className="site-nav" aria-label="Main" ref={nav}>
        <ul>
          {NAV.map((item) => (
            <li key={item.to}>
              <Link to={item.to} current={item.pages.includes(route.page)}>
                {item.label}
                {item.to === '/cart' && count > 0 && <span className="count"> ({count})</span>}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" ref={main} tabIndex={-1}>
        <SessionEndedNotice />
        <Page route={route} />
      </main>
    </>
  );
}
