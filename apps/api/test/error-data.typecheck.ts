// A compile-time test, checked by `pnpm typecheck` (never run): what a TypeScript client infers
// from `AppRouter` for `error.data`. Narrowing on `appCode` must give each code's details their
// types with no cast, and a detail another code carries must not type-check. If the error data
// stops being a union keyed by appCode, or a detail field changes type, `pnpm typecheck` fails.
import { AppError, type AppErrorCode } from '@flash/core';
import { isTRPCClientError, type TRPCClientError } from '@trpc/client';
import type { AppErrorData, AppRouter } from '../src/index.ts';

/** True only when A and B are the same type (not merely assignable). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<A, B>(_proof: Equal<A, B>): void {}

// The client sees the server's error data type as it is.
expectType<NonNullable<TRPCClientError<AppRouter>['data']>, AppErrorData>(true);

/** How a storefront handles a failed call: every detail field, each under its own appCode. */
export function describeFailure(err: unknown): string {
  if (!isTRPCClientError<AppRouter>(err)) return 'not an API error';
  const data = err.data;
  expectType<NonNullable<typeof data>['appCode'], AppErrorCode | undefined>(true);
  if (data?.appCode === 'OUT_OF_STOCK') {
    expectType<typeof data.productId, number>(true);
    return `product ${data.productId} is sold out`;
  }
  if (data?.appCode === 'PRODUCT_NOT_FOUND') {
    expectType<typeof data.productId, number>(true);
    return `no product ${data.productId}`;
  }
  if (data?.appCode === 'RATE_LIMITED') {
    expectType<typeof data.retryAfterMs, number>(true);
    expectType<typeof data.limit, 'user' | 'ip'>(true);
    return `retry in ${data.retryAfterMs} ms (${data.limit} limit)`;
  }
  if (data?.appCode === 'CHARGE_AMOUNT_TOO_SMALL') {
    expectType<typeof data.minAmount, number>(true);
    return `charge at least ${data.minAmount}`;
  }
  if (data?.appCode === 'CHARGE_LIMIT_EXCEEDED') {
    expectType<typeof data.maxAmount, number | undefined>(true);
    expectType<typeof data.maxBalance, number | undefined>(true);
    return `limit ${data.maxAmount ?? data.maxBalance}`;
  }
  if (data?.appCode === 'INSUFFICIENT_BALANCE') {
    expectType<typeof data.amount, number>(true);
    return `needs ${data.amount}`;
  }
  if (
    data?.appCode === 'COUPON_NOT_FOUND' ||
    data?.appCode === 'COUPON_SOLD_OUT' ||
    data?.appCode === 'COUPON_ALREADY_ISSUED' ||
    data?.appCode === 'COUPON_NOT_ACTIVE' ||
    data?.appCode === 'COUPON_NOT_USABLE'
  ) {
    expectType<typeof data.couponId, number>(true);
    return `coupon ${data.couponId}: ${data.appCode}`;
  }
  if (data?.appCode === 'ORDER_NOT_PAYABLE') {
    expectType<typeof data.status, 'PAID' | 'EXPIRED' | 'CANCELLED' | undefined>(true);
    expectType<typeof data.couponId, number | undefined>(true);
    return `order is ${data.status ?? 'not payable'}`;
  }
  if (data?.appCode === 'UNAVAILABLE') {
    expectType<typeof data.couponId, number | undefined>(true);
    return 'retry later';
  }
  if (
    data?.appCode === 'NOT_ADMITTED' ||
    data?.appCode === 'WAITING_ROOM_NOT_FOUND' ||
    data?.appCode === 'WAITING_ROOM_NOT_JOINED'
  ) {
    expectType<typeof data.roomId, number>(true);
    return `waiting room ${data.roomId}: ${data.appCode}`;
  }
  if (data?.appCode === 'ORDER_NOT_FOUND') {
    // @ts-expect-error ORDER_NOT_FOUND carries no productId
    return String(data.productId);
  }
  if (data?.appCode === 'PAYLOAD_TOO_LARGE') {
    // @ts-expect-error PAYLOAD_TOO_LARGE carries no retryAfterMs
    return String(data.retryAfterMs);
  }
  // @ts-expect-error without narrowing on appCode no detail is known
  const unknownDetail: unknown = data?.productId;
  // @ts-expect-error not an appCode of the contract
  if (data?.appCode === 'OUT_OF_STOK') return 'typo';
  return `${data?.appCode ?? data?.code}: ${err.message} ${String(unknownDetail)}`;
}

// The server side: an AppError must carry exactly the details its code declares.
export const thrown = [
  new AppError('OUT_OF_STOCK', 'Product 9 is out of stock', { productId: 9 }),
  new AppError('ORDER_NOT_FOUND', 'Order not found'),
  // @ts-expect-error OUT_OF_STOCK needs its productId
  new AppError('OUT_OF_STOCK', 'Product 9 is out of stock'),
  // @ts-expect-error NOT_ADMITTED needs its roomId
  new AppError('NOT_ADMITTED', 'Not admitted'),
  // @ts-expect-error RATE_LIMITED carries limit and retryAfterMs, not productId
  new AppError('RATE_LIMITED', 'Too many requests', { productId: 9 }),
];
