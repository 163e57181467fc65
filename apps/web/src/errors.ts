import type { AppRouter } from '@flash/api';
import { TRPCClientError, type TRPCClientErrorLike } from '@trpc/client';

/** The contract's appCodes, as the router's error shape declares them (no copy kept here). */
export type AppErrorCode = NonNullable<NonNullable<TRPCClientErrorLike<AppRouter>['data']>['appCode']>;

/**
 * What the shopper reads for each appCode. A Record over the router's codes: a code added to the
 * API without a sentence here fails the web app's type check.
 */
export const ERROR_MESSAGES: Record<AppErrorCode, string> = {
  INVALID_INPUT: 'Some of what you entered is not valid. Check it and try again.',
  UNAUTHORIZED: 'Your session has ended. Please sign in again.',
  FORBIDDEN: 'You are not allowed to do that.',
  CHARGE_AMOUNT_TOO_SMALL: 'The smallest charge is ₩1,000. Enter a larger amount.',
  CHARGE_LIMIT_EXCEEDED:
    'That is more than you can charge: at most ₩10,000,000 at once and ₩1,000,000,000 in total.',
  PRODUCT_NOT_FOUND: 'This product does not exist.',
  COUPON_NOT_FOUND: 'This coupon does not exist.',
  ORDER_NOT_FOUND: 'We could not find this order.',
  WAITING_ROOM_NOT_FOUND: 'This waiting room does not exist.',
  WAITING_ROOM_NOT_JOINED: 'You have not joined this waiting room yet.',
  NOT_ADMITTED: 'It is not your turn yet, or your turn has ended. Go back to the waiting room.',
  COUPON_SOLD_OUT: 'Sorry, this coupon is sold out.',
  COUPON_ALREADY_ISSUED: 'You have already claimed this coupon.',
  COUPON_NOT_ACTIVE: 'This coupon cannot be claimed right now: its sale has not started or has ended.',
  COUPON_NOT_USABLE: 'This coupon cannot be used: it is used, expired, or held by another order.',
  OUT_OF_STOCK: 'Not enough stock left for one of the products. Lower the quantity or remove it.',
  ORDER_NOT_PAYABLE: 'This order can no longer be paid: it is already paid, expired or cancelled.',
  INSUFFICIENT_BALANCE: 'Your balance is too low for this order. Charge your balance first.',
  IDEMPOTENCY_KEY_REUSED: 'This request was already sent with different details. Please try again.',
  RATE_LIMITED: 'Too many requests at once.',
  UNAVAILABLE: 'The shop is briefly unavailable.',
  NOT_FOUND: 'This page asked the shop for something it does not offer. Reload the page and try again.',
  PAYLOAD_TOO_LARGE: 'That request was too large to send. Try again with fewer items.',
  UNSUPPORTED_MEDIA_TYPE: 'The shop could not read that request. Reload the page and try again.',
};

export type Problem = {
  /** An appCode, or NETWORK when the API could not be reached, UNKNOWN for anything else. */
  code: AppErrorCode | 'NETWORK' | 'UNKNOWN';
  message: string;
  /** RATE_LIMITED: how long the API asked us to wait. */
  retryAfterMs?: number;
  /** Worth offering a retry by hand (the store or the network was down, or the limit passed). */
  retryable: boolean;
  /** OUT_OF_STOCK: the product that is short. */
  productId?: number;
  /** NOT_ADMITTED: the waiting room whose pass the call needed. */
  roomId?: number;
};

function numberField(data: unknown, field: string): number | undefined {
  if (typeof data !== 'object' || data === null || !(field in data)) return undefined;
  const value = (data as Record<string, unknown>)[field];
  return typeof value === 'number' ? value : undefined;
}

export function describeError(error: unknown): Problem {
  if (error instanceof TRPCClientError) {
    const data: unknown = error.data;
    const appCode = (error as TRPCClientError<AppRouter>).data?.appCode;
    if (appCode && appCode in ERROR_MESSAGES) {
      return {
        code: appCode,
        message: ERROR_MESSAGES[appCode],
        retryAfterMs: appCode === 'RATE_LIMITED' ? (numberField(data, 'retryAfterMs') ?? 1000) : undefined,
        retryable: appCode === 'UNAVAILABLE' || appCode === 'RATE_LIMITED',
        productId: numberField(data, 'productId'),
        roomId: numberField(data, 'roomId'),
      };
    }
    if (data === undefined || data === null) {
      return {
        code: 'NETWORK',
        message: 'We could not reach the shop. Check your connection.',
        retryable: true,
      };
    }
  }
  return { code: 'UNKNOWN', message: 'Something went wrong on our side.', retryable: true };
}

/** Retry only when waiting helps by itself: the API asked us to slow down, or the network dropped. */
export function shouldRetry(failureCount: number, error: unknown): boolean {
  const { code } = describeError(error);
  return (code === 'RATE_LIMITED' && failureCount < 5) || (code === 'NETWORK' && failureCount < 2);
}

export function retryDelayFor(failureCount: number, error: unknown): number {
  return describeError(error).retryAfterMs ?? Math.min(1000 * 2 ** failureCount, 8000);
}
