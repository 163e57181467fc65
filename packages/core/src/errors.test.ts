import { describe, expect, it } from 'vitest';
import { AppError, AppErrorCode, withoutStack } from './errors.ts';

const FRAME = /\n\s+at /;

describe('AppError stacks', () => {
  it('carries no frames for a decided answer, and leaves the stack limit as it was', () => {
    const before = Error.stackTraceLimit;
    const err = new AppError(AppErrorCode.COUPON_SOLD_OUT, 'Coupon is sold out', { couponId: 7 });
    expect(err.stack).toBe('AppError: Coupon is sold out');
    expect(err).toMatchObject({ code: 'COUPON_SOLD_OUT', details: { couponId: 7 }, name: 'AppError' });
    expect(Error.stackTraceLimit).toBe(before);
    expect(new Error('ordinary').stack).toMatch(FRAME);
  });

  it('keeps the frames of UNAVAILABLE, which reports a failing store', () => {
    const cause = new Error('connect ECONNREFUSED');
    const err = new AppError(AppErrorCode.UNAVAILABLE, 'down', undefined, { cause });
    expect(err.stack).toMatch(FRAME);
    expect(err.cause).toBe(cause);
  });
});

describe('withoutStack', () => {
  it('builds an error without frames and restores the limit', () => {
    const before = Error.stackTraceLimit;
    const err = withoutStack(() => new TypeError('refused'));
    expect(err.stack).toBe('TypeError: refused');
    expect(Error.stackTraceLimit).toBe(before);
  });

  it('restores the limit when the builder throws', () => {
    const before = Error.stackTraceLimit;
    expect(() =>
      withoutStack(() => {
        throw new Error('builder failed');
      }),
    ).toThrow('builder failed');
    expect(Error.stackTraceLimit).toBe(before);
    expect(new Error('after').stack).toMatch(FRAME);
  });
});
