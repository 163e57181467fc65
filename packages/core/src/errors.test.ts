import { describe, expect, it } from 'vitest';
import { AppError, AppErrorCode, isUnavailableError, withoutStack } from './errors.ts';

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

describe('isUnavailableError on a Redis Cluster', () => {
  it.each([
    "Cluster isn't ready and enableOfflineQueue options is false",
    'Too many Cluster redirections. Last error: Error: Connection is closed.',
    'Failed to refresh slots cache.',
    'CLUSTERDOWN The cluster is down',
    'TRYAGAIN Multiple keys request during rehashing of slot',
  ])('%s means UNAVAILABLE', (message) => {
    expect(isUnavailableError(new Error(message))).toBe(true);
  });

  it('a script error is still a bug', () => {
    expect(isUnavailableError(new Error("CROSSSLOT Keys in request don't hash to the same slot"))).toBe(
      false,
    );
  });
});
