import { AppError, type AppErrorCode } from '@flash/core';
import type { TRPCError } from '@trpc/server';

/** tRPC's own errors (input validation, auth, limits, outages) named by the contract's appCodes. */
const APP_CODE_BY_TRPC_CODE: Partial<Record<TRPCError['code'], AppErrorCode>> = {
  BAD_REQUEST: 'INVALID_INPUT',
  PARSE_ERROR: 'INVALID_INPUT',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  TOO_MANY_REQUESTS: 'RATE_LIMITED',
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
