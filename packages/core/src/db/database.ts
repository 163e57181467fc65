import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

/**
 * bigint columns are read as JS numbers (see db/client.ts): every id and amount here is
 * bounded far below 2^53 by CHECK constraints and input schemas.
 */
type BigIntColumn = number;
type GeneratedBigInt = Generated<number>;
type Timestamp = ColumnType<Date, Date | string, Date | string>;
type GeneratedTimestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export type LedgerKind = 'CHARGE' | 'PAYMENT' | 'REFUND';
export type DiscountType = 'FIXED' | 'PERCENT';
export type IssuedCouponStatus = 'AVAILABLE' | 'USED';
export type OrderStatus = 'PENDING_PAYMENT' | 'PAID' | 'EXPIRED' | 'CANCELLED';

export type UsersTable = {
  id: BigIntColumn;
  balance: GeneratedBigInt;
  created_at: GeneratedTimestamp;
  updated_at: GeneratedTimestamp;
};

export type BalanceLedgerTable = {
  id: Generated<string>;
  user_id: BigIntColumn;
  kind: LedgerKind;
  amount: BigIntColumn;
  balance_before: BigIntColumn;
  balance_after: BigIntColumn;
  idempotency_key: string | null;
  payment_id: string | null;
  created_at: GeneratedTimestamp;
};

export type ProductsTable = {
  id: GeneratedBigInt;
  name: string;
  price: BigIntColumn;
  /** A picture of the product: an http(s) URL or a path on the storefront's origin; optional. */
  image_url: ColumnType<string | null, string | null | undefined, string | null>;
  /** Units on hand and not yet sold; open order holds live in Redis and are subtracted from it. */
  stock: BigIntColumn;
  created_at: GeneratedTimestamp;
  updated_at: GeneratedTimestamp;
};

export type CouponsTable = {
  id: GeneratedBigInt;
  name: string;
  discount_type: DiscountType;
  discount_value: number;
  total_quantity: number;
  issue_starts_at: Timestamp | null;
  issue_ends_at: Timestamp | null;
  valid_days: number | null;
  created_at: GeneratedTimestamp;
};

export type IssuedCouponsTable = {
  coupon_id: BigIntColumn;
  user_id: BigIntColumn;
  issued_at: Timestamp;
  expires_at: Timestamp | null;
  status: ColumnType<IssuedCouponStatus, IssuedCouponStatus | undefined, IssuedCouponStatus>;
  used_order_id: string | null;
  used_at: Timestamp | null;
};

export type OrdersTable = {
  id: string;
  user_id: BigIntColumn;
  status: OrderStatus;
  total_amount: BigIntColumn;
  discount_amount: BigIntColumn;
  pay_amount: BigIntColumn;
  coupon_id: BigIntColumn | null;
  idempotency_key: string | null;
  expires_at: Timestamp;
  created_at: Timestamp;
  paid_at: Timestamp | null;
  closed_at: Timestamp | null;
};

export type OrderLinesTable = {
  order_id: string;
  product_id: BigIntColumn;
  quantity: number;
  unit_price: BigIntColumn;
};

export type PaymentsTable = {
  id: Generated<string>;
  order_id: string;
  user_id: BigIntColumn;
  amount: BigIntColumn;
  created_at: GeneratedTimestamp;
};

export type SalesTable = {
  order_id: string;
  product_id: BigIntColumn;
  quantity: number;
  sold_at: Timestamp;
};

export type IdempotencyKeysTable = {
  user_id: BigIntColumn;
  scope: string;
  key: string;
  request_hash: string;
  response: ColumnType<unknown, string | null, string | null> | null;
  created_at: GeneratedTimestamp;
};

/** Topics on the outbox; each row is one message for the data platform. */
export const OutboxTopic = { OrderPaid: 'order.paid' } as const;
export type OutboxTopic = (typeof OutboxTopic)[keyof typeof OutboxTopic];

export type OutboxTable = {
  id: GeneratedBigInt;
  topic: string;
  key: string;
  payload: ColumnType<unknown, string, string>;
  created_at: GeneratedTimestamp;
  published_at: Timestamp | null;
  attempts: ColumnType<number, number | undefined, number>;
  last_error: string | null;
};

export type WaitingRoomsTable = {
  id: GeneratedBigInt;
  name: string;
  /** node-postgres reads a bigint[] as strings (only plain int8 has a parser, db/client.ts). */
  coupon_ids: ColumnType<(number | string)[], number[], number[]>;
  product_ids: ColumnType<(number | string)[], number[], number[]>;
  admit_per_second: number;
  paused: ColumnType<boolean, boolean | undefined, boolean>;
  opens_at: Timestamp | null;
  pass_ttl_seconds: number;
  created_at: GeneratedTimestamp;
  updated_at: GeneratedTimestamp;
};

export type Database = {
  users: UsersTable;
  balance_ledger: BalanceLedgerTable;
  products: ProductsTable;
  coupons: CouponsTable;
  issued_coupons: IssuedCouponsTable;
  orders: OrdersTable;
  order_lines: OrderLinesTable;
  payments: PaymentsTable;
  sales: SalesTable;
  idempotency_keys: IdempotencyKeysTable;
  outbox: OutboxTable;
  waiting_rooms: WaitingRoomsTable;
};

export type ProductRow = Selectable<ProductsTable>;
export type NewProduct = Insertable<ProductsTable>;
export type CouponRow = Selectable<CouponsTable>;
export type IssuedCouponRow = Selectable<IssuedCouponsTable>;
export type OrderRow = Selectable<OrdersTable>;
export type OrderLineRow = Selectable<OrderLinesTable>;
/** One line of an order as the order and payment flows use it. */
export type OrderLine = { productId: number; quantity: number; unitPrice: number };
export type OrderWithLines = OrderRow & { lines: OrderLine[] };
export type LedgerRow = Selectable<BalanceLedgerTable>;
export type WaitingRoomRow = Selectable<WaitingRoomsTable>;
