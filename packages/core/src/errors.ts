/**
 * The contract's domain error codes. Each is raised as an `AppError`; the API maps it to a
 * tRPC code with `APP_ERROR_TRPC_CODE` and puts it on `error.data.appCode`.
 */
export const AppErrorCode = {
  /** Input failed validation (wrong type, out of range, unknown keys). */
  INVALID_INPUT: 'INVALID_INPUT',
  /** No bearer token, or one that is malformed, expired or wrongly signed. */
  UNAUTHORIZED: 'UNAUTHORIZED',
  /** Authenticated, but not allowed (a non-admin calling `admin.*`). */
  FORBIDDEN: 'FORBIDDEN',
  /** `balance.charge` below the 1,000 KRW minimum. */
  CHARGE_AMOUNT_TOO_SMALL: 'CHARGE_AMOUNT_TOO_SMALL',
  /** One charge over 10,000,000 KRW, or a resulting balance over 1,000,000,000 KRW. */
  CHARGE_LIMIT_EXCEEDED: 'CHARGE_LIMIT_EXCEEDED',
  /** Unknown product id. */
  PRODUCT_NOT_FOUND: 'PRODUCT_NOT_FOUND',
  /** Unknown coupon id. */
  COUPON_NOT_FOUND: 'COUPON_NOT_FOUND',
  /** Unknown order id, or one that belongs to another user. */
  ORDER_NOT_FOUND: 'ORDER_NOT_FOUND',
  /** Unknown waiting room id. */
  WAITING_ROOM_NOT_FOUND: 'WAITING_ROOM_NOT_FOUND',
  /** `waitingRoom.status` by a caller who has no ticket in that room. */
  WAITING_ROOM_NOT_JOINED: 'WAITING_ROOM_NOT_JOINED',
  /**
   * A guarded call (a room's coupon or product) without a valid pass of that room for this
   * user: none, malformed, forged, expired, another user's or another room's.
   */
  NOT_ADMITTED: 'NOT_ADMITTED',
  /** Every coupon of this kind has been issued. */
  COUPON_SOLD_OUT: 'COUPON_SOLD_OUT',
  /** This user already holds this coupon. */
  COUPON_ALREADY_ISSUED: 'COUPON_ALREADY_ISSUED',
  /** Issued outside the coupon's issue window. */
  COUPON_NOT_ACTIVE: 'COUPON_NOT_ACTIVE',
  /** The coupon on an order is not held by the user, already used, expired or held by another order. */
  COUPON_NOT_USABLE: 'COUPON_NOT_USABLE',
  /** An order line asks for more than can be ordered now (`details.productId` names it). */
  OUT_OF_STOCK: 'OUT_OF_STOCK',
  /** Paying an order that is already paid, expired or cancelled. */
  ORDER_NOT_PAYABLE: 'ORDER_NOT_PAYABLE',
  /** The balance does not cover the order's pay amount. */
  INSUFFICIENT_BALANCE: 'INSUFFICIENT_BALANCE',
  /** An idempotency key reused with a different input. */
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
  /** Too many requests from this user or address. */
  RATE_LIMITED: 'RATE_LIMITED',
  /** Redis or Postgres is down, or hot-path state is missing and must be rebuilt first. */
  UNAVAILABLE: 'UNAVAILABLE',
  /** No procedure at this path under `/trpc` (an unknown name, `/trpc` itself, a nested path). */
  NOT_FOUND: 'NOT_FOUND',
  /** A request body over the API's body limit. */
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  /** A body that is not `application/json` (a form, an octet stream, no content type at all). */
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
} as const;
export type AppErrorCode = (typeof AppErrorCode)[keyof typeof AppErrorCode];

type NoDetails = Record<never, never>;

/**
 * The fields each code adds to `error.data` besides `appCode`, so that a client narrowing on
 * `appCode` gets them typed. `AppError`'s constructor requires exactly these for its code; a
 * code that carries nothing maps to no fields.
 */
export type AppErrorDetails = {
  INVALID_INPUT: NoDetails;
  UNAUTHORIZED: NoDetails;
  FORBIDDEN: NoDetails;
  /** The smallest charge accepted, in KRW. */
  CHARGE_AMOUNT_TOO_SMALL: { minAmount: number };
  /** `maxAmount`: one charge was over the per-charge limit; `maxBalance`: the balance would exceed its limit. */
  CHARGE_LIMIT_EXCEEDED: { maxAmount?: number; maxBalance?: number };
  PRODUCT_NOT_FOUND: { productId: number };
  COUPON_NOT_FOUND: { couponId: number };
  ORDER_NOT_FOUND: NoDetails;
  WAITING_ROOM_NOT_FOUND: { roomId: number };
  WAITING_ROOM_NOT_JOINED: { roomId: number };
  /** The room whose pass the call needs. */
  NOT_ADMITTED: { roomId: number };
  COUPON_SOLD_OUT: { couponId: number };
  COUPON_ALREADY_ISSUED: { couponId: number };
  COUPON_NOT_ACTIVE: { couponId: number };
  COUPON_NOT_USABLE: { couponId: number };
  /** The first order line that cannot be held. */
  OUT_OF_STOCK: { productId: number };
  /** The order's state when it is no longer pending; `couponId` when its coupon is no longer usable. */
  ORDER_NOT_PAYABLE: { status?: 'PAID' | 'EXPIRED' | 'CANCELLED'; couponId?: number };
  /** The amount to pay, in KRW. */
  INSUFFICIENT_BALANCE: { amount: number };
  IDEMPOTENCY_KEY_REUSED: NoDetails;
  /** Which limit refused the call, and how long until the next call fits. */
  RATE_LIMITED: { limit: 'user' | 'ip'; retryAfterMs: number };
  /** `couponId` while that coupon's state is being restored. */
  UNAVAILABLE: { couponId?: number };
  NOT_FOUND: NoDetails;
  PAYLOAD_TOO_LARGE: NoDetails;
  UNSUPPORTED_MEDIA_TYPE: NoDetails;
};

/** `AppError`'s arguments after the message: the details are required when the code has required fields. */
type DetailsArgs<C extends AppErrorCode> = NoDetails extends AppErrorDetails[C]
  ? [details?: AppErrorDetails[C], options?: ErrorOptions]
  : [details: AppErrorDetails[C], options?: ErrorOptions];

export type TrpcErrorCodeName =
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'TOO_MANY_REQUESTS'
  | 'SERVICE_UNAVAILABLE'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE';

export const APP_ERROR_TRPC_CODE: Record<AppErrorCode, TrpcErrorCodeName> = {
  INVALID_INPUT: 'BAD_REQUEST',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  CHARGE_AMOUNT_TOO_SMALL: 'BAD_REQUEST',
  CHARGE_LIMIT_EXCEEDED: 'BAD_REQUEST',
  PRODUCT_NOT_FOUND: 'NOT_FOUND',
  COUPON_NOT_FOUND: 'NOT_FOUND',
  ORDER_NOT_FOUND: 'NOT_FOUND',
  WAITING_ROOM_NOT_FOUND: 'NOT_FOUND',
  WAITING_ROOM_NOT_JOINED: 'NOT_FOUND',
  NOT_ADMITTED: 'FORBIDDEN',
  COUPON_SOLD_OUT: 'CONFLICT',
  COUPON_ALREADY_ISSUED: 'CONFLICT',
  COUPON_NOT_ACTIVE: 'CONFLICT',
  COUPON_NOT_USABLE: 'CONFLICT',
  OUT_OF_STOCK: 'CONFLICT',
  ORDER_NOT_PAYABLE: 'CONFLICT',
  INSUFFICIENT_BALANCE: 'CONFLICT',
  IDEMPOTENCY_KEY_REUSED: 'CONFLICT',
  RATE_LIMITED: 'TOO_MANY_REQUESTS',
  UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  NOT_FOUND: 'NOT_FOUND',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
};

export class AppError<C extends AppErrorCode = AppErrorCode> extends Error {
  override name = 'AppError';
  readonly code: C;
  /** Extra fields for clients, copied onto `error.data` (e.g. `productId` for OUT_OF_STOCK). */
  readonly details: AppErrorDetails[C] | undefined;

  constructor(code: C, message: string, ...[details, options]: DetailsArgs<C>) {
    super(message, options);
    this.code = code;
    this.details = details;
  }
}

const UNAVAILABLE_NET_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
// Postgres SQLSTATE classes 08 (connection), 57 (operator intervention: shutdown, crash, and
// 57014, a statement cancelled by statement_timeout), 53 (resources).
const UNAVAILABLE_PG_STATE = /^(08|57|53)/;

/**
 * True when an error means a backing store is unreachable rather than that the request was
 * wrong: callers turn these into `UNAVAILABLE` so clients know to retry later.
 */
export function isUnavailableError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const e = err as Error & { code?: unknown };
  if (
    typeof e.code === 'string' &&
    (UNAVAILABLE_NET_CODES.has(e.code) || UNAVAILABLE_PG_STATE.test(e.code))
  ) {
    return true;
  }
  if (e.name === 'MaxRetriesPerRequestError') return true;
  // ioredis' commandTimeout ("Command timed out"): Redis stopped answering on an open connection.
  // A bare MOVED/ASK reaches a caller only from a pipeline ioredis did not redirect (one whose
  // replies differ, e.g. a script and WAIT): the slot moved, the command did not run there.
  // LOADING, READONLY, MASTERDOWN: a node restarting, or one that became a replica in a
  // failover; the command did not run.
  return /Connection is closed|Connection terminated|connect ECONNREFUSED|Stream isn't writeable|timeout exceeded when trying to connect|Client has encountered a connection error|Reached the max retries per request|^Command timed out$|Cluster isn't ready|Too many Cluster redirections|Failed to refresh slots cache|^CLUSTERDOWN|^TRYAGAIN|^MOVED \d+ |^ASK \d+ |^LOADING |^READONLY |^MASTERDOWN /i.test(
    e.message,
  );
}

/** Maps any thrown value to an AppError when it has a domain meaning, otherwise returns undefined. */
export function toAppError(err: unknown): AppError | undefined {
  if (err instanceof AppError) return err;
  if (isUnavailableError(err)) {
    return new AppError(
      AppErrorCode.UNAVAILABLE,
      'A backing service is unavailable, please retry',
      undefined,
      {
        cause: err,
      },
    );
  }
  return undefined;
}
