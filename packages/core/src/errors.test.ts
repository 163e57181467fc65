import { describe, expect, it } from 'vitest';
import { AppError, AppErrorCode, isUnavailableError, toAppError } from './errors.ts';

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

describe('isUnavailableError on a Redis Cluster', () => {
  it.each([
    "Cluster isn't ready and enableOfflineQueue options is false",
    'Too many Cluster redirections. Last error: Error: Connection is closed.',
    'Failed to refresh slots cache.',
    'CLUSTERDOWN The cluster is down',
    'TRYAGAIN Multiple keys request during rehashing of slot',
    'MOVED 5816 127.0.0.1:7601',
    'ASK 5816 127.0.0.1:7601',
    'LOADING Redis is loading the dataset in memory',
    "READONLY You can't write against a read only replica.",
    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
  ])('%s means UNAVAILABLE', (message) => {
    expect(isUnavailableError(new Error(message))).toBe(true);
  });

  it('a script error is still a bug', () => {
    expect(isUnavailableError(new Error("CROSSSLOT Keys in request don't hash to the same slot"))).toBe(
      false,
    );
  });
});
