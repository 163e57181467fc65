import { useSyncExternalStore } from 'react';

/** Cart lines: product id and quantity; prices and names are read from the API when shown. */
export type CartLine = { productId: number; quantity: number };

const KEY = 'flash.cart';
const listeners = new Set<() => void>();
let lines: CartLine[] = load();

function load(): CartLine[] {
  try {
    const parsed: unknown = JSON.parse(sessionStorage.getItem(KEY) ?? '[]');
    if (!Array.isArray(parsed)) return [];
    return parsed.filter(
      (l): l is CartLine =>
        typeof l === 'object' &&
        l !== null &&
        Number.isSafeInteger(l.productId) &&
        Number.isSafeInteger(l.quantity) &&
        l.quantity > 0,
    );
  } catch {
    return [];
  }
}

function save(next: CartLine[]): void {
  lines = next;
  try {
    sessionStorage.setItem(KEY, JSON.stringify(next));
  } catch {}
  for (const l of listeners) l();
}

export const MAX_QUANTITY = 1000;

export function addToCart(productId: number, quantity = 1): void {
  const existing = lines.find((l) => l.productId === productId);
  save(
    existing
      ? lines.map((l) =>
          l.productId === productId ? { ...l, quantity: Math.min(MAX_QUANTITY, l.quantity + quantity) } : l,
        )
      : [...lines, { productId, quantity: Math.min(MAX_QUANTITY, quantity) }],
  );
}

export function setQuantity(productId: number, quantity: number): void {
  save(
    quantity <= 0
      ? lines.filter((l) => l.productId !== productId)
      : lines.map((l) =>
          l.productId === productId ? { ...l, quantity: Math.min(MAX_QUANTITY, quantity) } : l,
        ),
  );
}

export function clearCart(): void {
  save([]);
}

export function useCart(): CartLine[] {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => lines,
  );
}
