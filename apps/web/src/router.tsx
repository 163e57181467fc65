import { type ReactNode, useSyncExternalStore } from 'react';

/**
 * Hash routes (`#/orders/12`): the API serves one index.html and nothing else, so every address
 * of the app is the same document. Nothing secret ever goes into a route.
 */
export type Route =
  | { page: 'catalog' }
  | { page: 'product'; productId: number }
  | { page: 'top' }
  | { page: 'coupons' }
  | { page: 'coupon'; couponId: number }
  | { page: 'cart' }
  | { page: 'balance' }
  | { page: 'my-coupons' }
  | { page: 'orders' }
  | { page: 'order'; orderId: string }
  | { page: 'waiting-room'; roomId: number }
  | { page: 'not-found' };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '') || '/';
  const parts = path.split('/').filter(Boolean);
  const id = (s: string | undefined) => (s && /^[1-9]\d{0,15}$/.test(s) ? Number(s) : undefined);
  switch (parts[0]) {
    case undefined:
      return { page: 'catalog' };
    case 'products': {
      const productId = id(parts[1]);
      return productId ? { page: 'product', productId } : { page: 'not-found' };
    }
    case 'top':
      return { page: 'top' };
    case 'coupons': {
      if (parts[1] === undefined) return { page: 'coupons' };
      const couponId = id(parts[1]);
      return couponId ? { page: 'coupon', couponId } : { page: 'not-found' };
    }
    case 'cart':
      return { page: 'cart' };
    case 'balance':
      return { page: 'balance' };
    case 'my-coupons':
      return { page: 'my-coupons' };
    case 'orders':
      if (parts[1] === undefined) return { page: 'orders' };
      return /^[\w-]{1,64}$/.test(parts[1]) ? { page: 'order', orderId: parts[1] } : { page: 'not-found' };
    case 'waiting-room': {
      const roomId = id(parts[1]);
      return roomId ? { page: 'waiting-room', roomId } : { page: 'not-found' };
    }
    default:
      return { page: 'not-found' };
  }
}

function subscribe(onChange: () => void): () => void {
  window.addEventListener('hashchange', onChange);
  return () => window.removeEventListener('hashchange', onChange);
}

export function useRoute(): Route {
  const hash = useSyncExternalStore(subscribe, () => window.location.hash);
  return parseRoute(hash);
}

export function navigate(to: string): void {
  window.location.hash = to;
}

export function Link(props: { to: string; children: ReactNode; className?: string; current?: boolean }) {
  return (
    <a href={`#${props.to}`} className={props.className} aria-current={props.current ? 'page' : undefined}>
      {props.children}
    </a>
  );
}
