import { sql, type Transaction } from 'kysely';
import {
  type Database,
  type IssuedCouponStatus,
  type OrderLine,
  type OrderRow,
  type OrderWithLines,
  OutboxTopic,
} from '../db/database.ts';

/**
 * The statements of a payment batch (payment.batch.ts). Each takes the whole batch at once, its
 * values as arrays (`unnest`), so its text, and therefore its prepared statement, is the same
 * whatever the batch size.
 *
 * Lock order, the same in every batch (and a batch of one is just a batch): idempotency keys,
 * orders, issued coupons, users, products, each class sorted by its key. Two batches therefore
 * never wait for each other in a cycle. Everything else that locks these rows takes a single
 * row per transaction (expiry, charges, restocks), which cannot close a cycle either.
 */

type Trx = Transaction<Database>;

/**
 * Locks the batch's orders, each only where it belongs to the user who pays it (another user's
 * order is neither locked nor returned: indistinguishable from a missing one), in id order.
 * Concurrent payments of an order and the expiry sweep queue behind these locks, so exactly
 * one of them decides its fate. Returns the orders by id, with their lines by product.
 */
export async function lockOrdersForPayment(
  trx: Trx,
  requests: { orderId: string; userId: number }[],
): Promise<Map<string, OrderWithLines>> {
  const result = await sql<OrderRow & { product_id: number | null; quantity: number; unit_price: number }>`
    SELECT o.*, l.product_id, l.quantity, l.unit_price
    FROM orders o
    JOIN (SELECT DISTINCT id, user_id
          FROM unnest(${requests.map((r) => r.orderId)}::uuid[], ${requests.map((r) => r.userId)}::int8[])
               AS r(id, user_id)) r
      ON o.id = r.id AND o.user_id = r.user_id
    LEFT JOIN order_lines l ON l.order_id = o.id
    ORDER BY o.id, l.product_id
    FOR NO KEY UPDATE OF o`.execute(trx);
  const orders = new Map<string, OrderWithLines>();
  for (const { product_id, quantity, unit_price, ...row } of result.rows) {
    let order = orders.get(row.id);
    if (!order) {
      order = { ...row, lines: [] };
      orders.set(row.id, order);
    }
    if (product_id !== null) order.lines.push({ productId: product_id, quantity, unitPrice: unit_price });
  }
  return orders;
}

/** Locks the issued coupons named (each pair once), by coupon and user; returns their statuses by `${couponId}:${userId}`. */
export async function lockIssuedCoupons(
  trx: Trx,
  pairs: { couponId: number; userId: number }[],
): Promise<Map<string, IssuedCouponStatus>> {
  if (pairs.length === 0) return new Map();
  const result = await sql<{ coupon_id: number; user_id: number; status: IssuedCouponStatus }>`
    SELECT ic.coupon_id, ic.user_id, ic.status
    FROM issued_coupons ic
    JOIN (SELECT DISTINCT coupon_id, user_id
          FROM unnest(${pairs.map((p) => p.couponId)}::int8[], ${pairs.map((p) => p.userId)}::int8[])
               AS r(coupon_id, user_id)) r
      ON ic.coupon_id = r.coupon_id AND ic.user_id = r.user_id
    ORDER BY ic.coupon_id, ic.user_id
    FOR NO KEY UPDATE OF ic`.execute(trx);
  return new Map(result.rows.map((r) => [`${r.coupon_id}:${r.user_id}`, r.status]));
}

/** Locks the users' balance rows in id order; a user without a row is absent (balance 0). */
export async function lockBalances(trx: Trx, userIds: number[]): Promise<Map<number, number>> {
  if (userIds.length === 0) return new Map();
  const result = await sql<{ id: number; balance: number }>`
    SELECT id, balance FROM users WHERE id = ANY(${userIds}::int8[])
    ORDER BY id FOR NO KEY UPDATE`.execute(trx);
  return new Map(result.rows.map((r) => [r.id, r.balance]));
}

/**
 * Locks the products' stock rows in id order. Like every lock of a payment, `FOR NO KEY UPDATE`
 * (what an UPDATE of a non-key column takes anyway), not `FOR UPDATE`: an order saved at the same
 * moment checks its lines' foreign keys with `FOR KEY SHARE` on these rows, in its own line order,
 * and `FOR UPDATE` would conflict with that and deadlock (seen in `pnpm loadtest sale`).
 */
export async function lockStock(trx: Trx, productIds: number[]): Promise<Map<number, number>> {
  if (productIds.length === 0) return new Map();
  const result = await sql<{ id: number; stock: number }>`
    SELECT id, stock FROM products WHERE id = ANY(${productIds}::int8[])
    ORDER BY id FOR NO KEY UPDATE`.execute(trx);
  return new Map(result.rows.map((r) => [r.id, r.stock]));
}

/** One accepted payment of a batch, decided against the rows the batch holds locked. */
export type PaymentWrite = {
  paymentId: string;
  orderId: string;
  userId: number;
  amount: number;
  paidAt: Date;
  couponId: number | null;
  lines: Pick<OrderLine, 'productId' | 'quantity'>[];
  /** The user's balance around this payment (several payments of one user chain). */
  balanceBefore: number;
  balanceAfter: number;
  /** The outbox message (JSON). */
  outbox: string;
  /** The key's stored answer (JSON), for a keyed payment. */
  idempotency?: { key: string; response: string };
};

/**
 * Writes a batch's accepted payments in ONE statement of data-modifying CTEs: balances debited
 * (one update per user, the sum of their payments), a ledger row per payment (its place in the
 * user's chain, in order), stock committed (one update per product), coupons USED, orders PAID,
 * payments, sales and outbox messages inserted, keys answered; and the keys of refused payments
 * dropped, as a rollback of their own transaction would have. Every guarded update must hit
 * exactly the rows decided on (the batch holds them locked): otherwise this throws and the
 * batch rolls back. The CHECK constraints (balance and stock never negative, ledger arithmetic)
 * stay the last line of defence.
 */
export async function writePayments(
  trx: Trx,
  scope: string,
  payments: PaymentWrite[],
  droppedKeys: { userId: number; key: string }[],
): Promise<void> {
  const p = {
    id: [] as string[],
    orderId: [] as string[],
    userId: [] as number[],
    amount: [] as number[],
    paidAt: [] as string[],
    couponId: [] as (number | null)[],
    before: [] as number[],
    after: [] as number[],
    outbox: [] as string[],
  };
  const l = { orderId: [] as string[], productId: [] as number[], quantity: [] as number[] };
  const k = { userId: [] as number[], key: [] as string[], response: [] as string[] };
  let coupons = 0;
  for (const pay of payments) {
    p.id.push(pay.paymentId);
    p.orderId.push(pay.orderId);
    p.userId.push(pay.userId);
    p.amount.push(pay.amount);
    p.paidAt.push(pay.paidAt.toISOString());
    p.couponId.push(pay.couponId);
    p.before.push(pay.balanceBefore);
    p.after.push(pay.balanceAfter);
    p.outbox.push(pay.outbox);
    if (pay.couponId !== null) coupons++;
    for (const line of pay.lines) {
      l.orderId.push(pay.orderId);
      l.productId.push(line.productId);
      l.quantity.push(line.quantity);
    }
    if (pay.idempotency) {
      k.userId.push(pay.userId);
      k.key.push(pay.idempotency.key);
      k.response.push(pay.idempotency.response);
    }
  }
  const result = await sql<{ orders: number; coupons: number }>`
    WITH pay AS (
      SELECT * FROM unnest(${p.id}::uuid[], ${p.orderId}::uuid[], ${p.userId}::int8[], ${p.amount}::int8[],
                           ${p.paidAt}::timestamptz[], ${p.couponId}::int8[], ${p.before}::int8[],
                           ${p.after}::int8[], ${p.outbox}::jsonb[])
        WITH ORDINALITY AS p(id, order_id, user_id, amount, paid_at, coupon_id, balance_before,
                             balance_after, outbox, n)
    ), line AS (
      SELECT * FROM unnest(${l.orderId}::uuid[], ${l.productId}::int8[], ${l.quantity}::int4[])
        AS l(order_id, product_id, quantity)
    ), debited AS (
      UPDATE users u SET balance = u.balance - d.amount, updated_at = now()
      FROM (SELECT user_id, sum(amount)::int8 AS amount FROM pay WHERE amount > 0 GROUP BY user_id) d
      WHERE u.id = d.user_id
    ), ledger AS (
      -- clock_timestamp(): one user's rows of one batch keep their chain order in created_at too.
      INSERT INTO balance_ledger (user_id, kind, amount, balance_before, balance_after, payment_id, created_at)
      SELECT user_id, 'PAYMENT', amount, balance_before, balance_after, id, clock_timestamp()
      FROM pay WHERE amount > 0 ORDER BY n
    ), stock AS (
      UPDATE products pr SET stock = pr.stock - s.quantity, updated_at = now()
      FROM (SELECT product_id, sum(quantity)::int8 AS quantity FROM line GROUP BY product_id) s
      WHERE pr.id = s.product_id
    ), coupon AS (
      UPDATE issued_coupons ic SET status = 'USED', used_order_id = pay.order_id, used_at = pay.paid_at
      FROM pay
      WHERE ic.coupon_id = pay.coupon_id AND ic.user_id = pay.user_id AND ic.status = 'AVAILABLE'
      RETURNING 1
    ), paid AS (
      UPDATE orders o SET status = 'PAID', paid_at = pay.paid_at
      FROM pay
      WHERE o.id = pay.order_id AND o.status = 'PENDING_PAYMENT'
      RETURNING 1
    ), payment AS (
      INSERT INTO payments (id, order_id, user_id, amount, created_at)
      SELECT id, order_id, user_id, amount, paid_at FROM pay ORDER BY n
    ), sale AS (
      INSERT INTO sales (order_id, product_id, quantity, sold_at)
      SELECT line.order_id, line.product_id, line.quantity, pay.paid_at
      FROM line JOIN pay ON pay.order_id = line.order_id
    ), message AS (
      INSERT INTO outbox (topic, key, payload)
      SELECT ${OutboxTopic.OrderPaid}::text, order_id::text, outbox FROM pay ORDER BY n
      ON CONFLICT (topic, key) DO NOTHING
    ), answered AS (
      UPDATE idempotency_keys ik SET response = a.response
      FROM unnest(${k.userId}::int8[], ${k.key}::text[], ${k.response}::jsonb[]) AS a(user_id, key, response)
      WHERE ik.user_id = a.user_id AND ik.scope = ${scope} AND ik.key = a.key
    ), dropped AS (
      DELETE FROM idempotency_keys ik
      USING unnest(${droppedKeys.map((d) => d.userId)}::int8[], ${droppedKeys.map((d) => d.key)}::text[])
            AS d(user_id, key)
      WHERE ik.user_id = d.user_id AND ik.scope = ${scope} AND ik.key = d.key
    )
    SELECT (SELECT count(*) FROM paid)::int AS orders, (SELECT count(*) FROM coupon)::int AS coupons`.execute(
    trx,
  );
  const counts = result.rows[0]!;
  if (counts.orders !== payments.length || counts.coupons !== coupons) {
    throw new Error(
      `payment batch: marked ${counts.orders} of ${payments.length} orders paid and ${counts.coupons} of ${coupons} coupons used`,
    );
  }
}
