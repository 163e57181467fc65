import { AppError, type AppErrorCode, type AppErrorDetails } from '@flash/core';
import type { TRPCDefaultErrorData, TRPCError } from '@trpc/server';

/**
 * `error.data` of every error answer, as a client infers it from `AppRouter`: tRPC's fields and,
 * keyed by `appCode`, the details of that code, so `if (data?.appCode === 'OUT_OF_STOCK')
 * data.productId` type-checks. No `appCode` only on an internal error (a bug, HTTP 500).
 */
export type AppErrorData = TRPCDefaultErrorData &
  ({ [C in AppErrorCode]: { appCode: C } & AppErrorDetails[C] }[AppErrorCode] | { appCode?: undefined });

/**
 * tRPC's own errors (input validation, routing, media types, auth, limits, outages) named by the
 * contract's appCodes. A request refused before any procedure ran (no such procedure, wrong
 * method, body too large or not JSON) is answered with one of these too (trpc/http-errors.ts).
 */
const APP_CODE_BY_TRPC_CODE: Partial<Record<TRPCError['code'], AppErrorCode>> = {
  BAD_REQUEST: 'INVALID_INPUT',
  PARSE_ERROR: 'INVALID_INPUT',
  // A query sent as POST or a mutation as GET: the request is wrong, not the procedure's name.
  METHOD_NOT_SUPPORTED: 'INVALID_INPUT',
  NOT_FOUND: 'NOT_FOUND',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  // Not TOO_MANY_REQUESTS: a RATE_LIMITED answer says which limit and when to retry, which only
  // the limiter's AppError knows.
  SERVICE_UNAVAILABLE: 'UNAVAILABLE',
};

/**
 * The appCode an error answers with: its AppError's code, or the one its tRPC code stands for;
 * undefined for anything else (a bug, answered as INTERNAL_SERVER_ERROR). The error formatter
 * and the metrics both name outcomes with it.
 */
export function appCodeOf(error: TRPCError): AppErrorCode | undefined {
  const cause = error.cause;
  return cause instanceof AppError ? cause.code : APP_CODE_BY_TRPC_CODE[error.code];
}
