import { describe, expect, it } from 'vitest';
import { priceOrder } from './order.pricing.ts';

describe('priceOrder', () => {
  const lines = [
    { quantity: 2, unitPrice: 10_000 },
    { quantity: 1, unitPrice: 3_333 },
  ];

  it('sums the lines without a coupon', () => {
    expect(priceOrder(lines)).toEqual({ totalAmount: 23_333, discountAmount: 0, payAmount: 23_333 });
  });

  it('takes a FIXED discount up to the total', () => {
    expect(priceOrder(lines, { type: 'FIXED', value: 5_000 })).toEqual({
      totalAmount: 23_333,
      discountAmount: 5_000,
      payAmount: 18_333,
    });
    expect(priceOrder(lines, { type: 'FIXED', value: 50_000 })).toEqual({
      totalAmount: 23_333,
      discountAmount: 23_333,
      payAmount: 0,
    });
  });

  it('rounds a PERCENT discount down to whole KRW', () => {
    // 15% of 23,333 = 3,499.95 -> 3,499
    expect(priceOrder(lines, { type: 'PERCENT', value: 15 })).toEqual({
      totalAmount: 23_333,
      discountAmount: 3_499,
      payAmount: 19_834,
    });
    expect(priceOrder(lines, { type: 'PERCENT', value: 100 })).toMatchObject({ payAmount: 0 });
  });
});
