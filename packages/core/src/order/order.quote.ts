import { findHeldCoupon } from '../coupon/coupon.service.ts';
import { AppError, AppErrorCode } from '../errors.ts';
import { getProductsForOrder } from '../product/product.service.ts';
import type { Resources } from '../resources.ts';
import { type Discount, type Priced, priceOrder } from './order.pricing.ts';
import { couponHeldByPendingOrder, type OrderLine } from './order.repository.ts';
import type { OrderLineInput } from './order.store.ts';

export type QuoteInput = { items: OrderLineInput[]; couponId?: number };
export type Quote = Priced & { lines: OrderLine[] };

/** What a quote reads: product prices (cached), the caller's coupon (cached rows) and open orders. */
export type QuoteRuntime = Pick<
  Resources,
  'db' | 'redis' | 'keys' | 'clock' | 'productState' | 'couponState'
>;

/**
 * What `order.create` would charge for these items and this coupon now: the same product prices,
 * the same coupon rules and the same `priceOrder`, with no hold, no rate-limit count and no write.
 * Refuses as order.create would (PRODUCT_NOT_FOUND, COUPON_NOT_USABLE); stock is not checked,
 * since only the hold can promise it.
 */
export async function quoteOrder(rt: QuoteRuntime, userId: number, input: QuoteInput): Promise<Quote> {
  const products = await getProductsForOrder(
    rt,
    input.items.map((i) => i.productId),
  );
  const lines: OrderLine[] = input.items.map((item) => {
    const product = products.get(item.productId);
    if (!product) {
      throw new AppError(AppErrorCode.PRODUCT_NOT_FOUND, `Product ${item.productId} not found`, {
        productId: item.productId,
      });
    }
    return { productId: item.productId, quantity: item.quantity, unitPrice: product.price };
  });
  const discount =
    input.couponId === undefined ? undefined : await usableCouponDiscount(rt, userId, input.couponId);
  return { ...priceOrder(lines, discount), lines };
}

/**
 * The coupon's discount if an order may use it now: held by the caller, not used, not expired,
 * and backing no open order. The one rule for order.create and order.quote.
 */
export async function usableCouponDiscount(
  rt: Omit<QuoteRuntime, 'productState'>,
  userId: number,
  couponId: number,
  now: Date = rt.clock.now(),
): Promise<Discount> {
  const held = await findHeldCoupon(rt, userId, couponId);
  const notUsable = (why: string) => new AppError(AppErrorCode.COUPON_NOT_USABLE, why, { couponId });
  if (!held) throw notUsable('Coupon is not held by this user');
  if (held.status !== 'AVAILABLE') throw notUsable('Coupon was already used');
  if (held.expiresAt && held.expiresAt.getTime() <= now.getTime()) throw notUsable('Coupon has expired');
  // Cheap early refusal; for an order the unique index is what actually decides a race.
  if (await couponHeldByPendingOrder(rt.db, userId, couponId))
    throw notUsable('Coupon is held by another open order');
  return held.discount;
}
