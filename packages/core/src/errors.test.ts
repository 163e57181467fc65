import { describe, expect, it } from 'vitest';
import { AppError, AppErrorCode, toAppError } from './errors.ts';

describe('AppError', () => {
  it('carries its code, message and details for the client', () => {
    const err = new AppError(AppErrorCode.COUPON_SOLD_OUT, 'Coupon is sold out', { couponId: 7 });
    expect(err).toMatchObject({
      code: 'COUPON_SOLD_OUT',
      details: { couponId: 7 },
      name: 'AppError',
      message: 'Coupon is sold out',
    });
    expect(err).toBeInstanceOf(Error);
  });

  it('turns a store outage into UNAVAILABLE that keeps its cause, and leaves bugs alone', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
    const mapped = toAppError(cause);
    expect(mapped?.code).toBe('UNAVAILABLE');
    expect(mapped?.cause).toBe(cause);
    expect(toAppError(new TypeError('undefined is not a function'))).toBeUndefined();
  });
});
