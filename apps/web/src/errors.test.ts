import { TRPCClientError } from '@trpc/client';
import { describe, expect, it } from 'vitest';
import { describeError, ERROR_MESSAGES, retryDelayFor, shouldRetry } from './errors';

/** An error as the client builds it from the API's error envelope. */
function apiError(appCode: string, extra: Record<string, unknown> = {}) {
  return TRPCClientError.from({
    error: {
      message: 'refused',
      code: -32600,
      data: { code: 'BAD_REQUEST', httpStatus: 400, appCode, ...extra },
    },
  });
}

describe('what the shopper reads for an API error', () => {
  it('every appCode has a sentence', () => {
    for (const message of Object.values(ERROR_MESSAGES)) expect(message).toMatch(/^[A-Z].*\.$/);
  });

  it('a refusal is its sentence, never retried by itself', () => {
    const error = apiError('CHARGE_AMOUNT_TOO_SMALL');
    expect(describeError(error)).toMatchObject({
      code: 'CHARGE_AMOUNT_TOO_SMALL',
      message: ERROR_MESSAGES.CHARGE_AMOUNT_TOO_SMALL,
      retryable: false,
    });
    expect(shouldRetry(0, error)).toBe(false);
  });

  it('RATE_LIMITED waits the retryAfterMs the API asked for, then tries again', () => {
    const error = apiError('RATE_LIMITED', { retryAfterMs: 1500 });
    expect(describeError(error)).toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: 1500 });
    expect(shouldRetry(0, error)).toBe(true);
    expect(retryDelayFor(1, error)).toBe(1500);
    expect(shouldRetry(5, error)).toBe(false);
  });

  it('UNAVAILABLE is offered as a retry by hand, not repeated by itself', () => {
    const error = apiError('UNAVAILABLE');
    expect(describeError(error)).toMatchObject({ code: 'UNAVAILABLE', retryable: true });
    expect(shouldRetry(0, error)).toBe(false);
  });

  it('OUT_OF_STOCK names its product', () => {
    expect(describeError(apiError('OUT_OF_STOCK', { productId: 7 })).productId).toBe(7);
  });

  it('an unreachable API is a network problem, retried a little', () => {
    const error = TRPCClientError.from(new TypeError('Failed to fetch'));
    expect(describeError(error)).toMatchObject({ code: 'NETWORK', retryable: true });
    expect(shouldRetry(0, error)).toBe(true);
  });
});
