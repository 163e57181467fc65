import { sql, type Transaction } from 'kysely';
import type { Db } from '../db/client.ts';
import type { Database, OrderLine, OrderRow, OrderStatus, OrderWithLines } from '../db/database.ts';

export type { OrderLine, OrderWithLines } from '../db/database.ts';

type DbOrTrx = Db | Transaction<Database>;

export async function insertOrder(trx: DbOrTrx, order: OrderRow, lines: OrderLine[]): Promise<void> {
  await trx.insertInto('orders').values(order).execute();
  await trx
    .insertInto('order_lines')
    .values(
      lines.map((l) => ({
        order_id: order.id,
        product_id: l.productId,
        quantity: l.quantity,
        unit_price: l.unitPrice,
      })),
    )
    .execute();
}

export type NewOrder = { row: OrderRow; lines: OrderLine[] };

/**
 * Inserts many PENDING_PAYMENT orders and their lines in one statement (arrays unnested, so
 * the statement has thirteen parameters whatever the batch size). Three kinds of order are skipped,
 * not an error, row by row:
 * - one whose coupon already backs another open order of its user (committed, or earlier in
 *   this batch): the partial unique index `orders_one_pending_per_coupon` decides;
 * - one whose id is saved already: saving an order answered from Redis is repeated after a
 *   crash between the insert and the deletion of its Redis record (order.persist.ts);
 * - one whose idempotency key another order of its user carries (`orders_idempotency_key`: the
 *   key's record was purged after its 24 h but the order stays).
 * Returns the ids that were inserted; the lines of a skipped order are not written.
 *
 * Rows go in (user_id, coupon_id) order, and orders without a coupon also by id, so two batches
 * that wait on each other's uncommitted coupon rows, or two saves of the same orders answered
 * from Redis on each other's ids, always wait in the same order and cannot deadlock.
 */
export async function insertPendingOrders(
  trx: Transaction<Database>,
  orders: NewOrder[],
): Promise<Set<string>> {
  const sorted = [...orders].sort(
    (a, b) =>
      a.row.user_id - b.row.user_id ||
      (a.row.coupon_id ?? 0) - (b.row.coupon_id ?? 0) ||
      // Orders without a coupon by id; two with the same coupon keep their order (the sort is
      // stable): the first of them is the one inserted.
      (a.row.coupon_id === null ? (a.row.id < b.row.id ? -1 : a.row.id > b.row.id ? 1 : 0) : 0),
  );
  const o = {
    id: [] as string[],
    userId: [] as number[],
    total: [] as number[],
    discount: [] as number[],
    pay: [] as number[],
    couponId: [] as (number | null)[],
    key: [] as (string | null)[],
    createdAt: [] as string[],
    expiresAt: [] as string[],
  };
  const l = {
    orderId: [] as string[],
    productId: [] as number[],
    quantity: [] as number[],
    price: [] as number[],
  };
  for (const { row, lines } of sorted) {
    if (row.status !== 'PENDING_PAYMENT') throw new Error('insertPendingOrders takes new pending orders');
    o.id.push(row.id);
    o.userId.push(row.user_id);
    o.total.push(row.total_amount);
    o.discount.push(row.discount_amount);
    o.pay.push(row.pay_amount);
    o.couponId.push(row.coupon_id);
    o.key.push(row.idempotency_key);
    o.createdAt.push(row.created_at.toISOString());
    o.expiresAt.push(row.expires_at.toISOString());
    for (const line of lines) {
      l.orderId.push(row.id);
      l.productId.push(line.productId);
      l.quantity.push(line.quantity);
      l.price.push(line.unitPrice);
    }
  }
  // Data-modifying CTEs: the lines reference the orders inserted by the same statement (the
  // foreign key is checked at its end), and only those that were not skipped.
  const result = await sql<{ id: string }>`
    WITH inserted AS (
      INSERT INTO orders (id, user_id, status, total_amount, discount_amount, pay_amount, coupon_id,
                          idempotency_key, created_at, expires_at)
      SELECT o.id, o.user_id, 'PENDING_PAYMENT', o.total, o.discount, o.pay, o.coupon_id,
             o.key, o.created_at, o.expires_at
      FROM unnest(${o.id}::uuid[], ${o.userId}::int8[], ${o.total}::int8[], ${o.discount}::int8[],
                  ${o.pay}::int8[], ${o.couponId}::int8[], ${o.key}::text[], ${o.createdAt}::timestamptz[],
                  ${o.expiresAt}::timestamptz[])
           WITH ORDINALITY AS o(id, user_id, total, discount, pay, coupon_id, key, created_at, expires_at, n)
      ORDER BY o.n
      -- Without a target: the primary key and the coupon index both decide (see above).
      ON CONFLICT DO NOTHING
      RETURNING id
    ), lines AS (
      INSERT INTO order_lines (order_id, product_id, quantity, unit_price)
      SELECT l.order_id, l.product_id, l.quantity, l.unit_price
      FROM unnest(${l.orderId}::uuid[], ${l.productId}::int8[], ${l.quantity}::int4[], ${l.price}::int8[])
           AS l(order_id, product_id, quantity, unit_price)
      WHERE l.order_id IN (SELECT id FROM inserted)
    )
    SELECT id FROM inserted`.execute(trx);
  return new Set(result.rows.map((r) => r.id));
}

/** Which of these orders' (user, idempotency key) pairs another order already carries. */
export async function ordersCarryingKeys(trx: DbOrTrx, orders: NewOrder[]): Promise<Set<string>> {
  const keyed = orders.filter((o) => o.row.idempotency_key !== null);
  if (keyed.length === 0) return new Set();
  const result = await sql<{ user_id: number; idempotency_key: string }>`
    SELECT o.user_id, o.idempotency_key FROM orders o
    JOIN unnest(${keyed.map((o) => o.row.user_id)}::int8[], ${keyed.map((o) => o.row.idempotency_key)}::text[])
         AS k(user_id, key) ON o.user_id = k.user_id AND o.idempotency_key = k.key`.execute(trx);
  return new Set(result.rows.map((r) => `${r.user_id}:${r.idempotency_key}`));
}

async function attachLines(db: DbOrTrx, orders: OrderRow[]): Promise<OrderWithLines[]> {
  if (orders.length === 0) return [];
  const rows = await db
    .selectFrom('order_lines')
    .selectAll()
    .where(
      'order_id',
      'in',
      orders.map((o) => o.id),
    )
    .orderBy('product_id')
    .execute();
  const byOrder = new Map<string, OrderLine[]>();
  for (const r of rows) {
    const list = byOrder.get(r.order_id) ?? [];
    list.push({ productId: r.product_id, quantity: r.quantity, unitPrice: r.unit_price });
    byOrder.set(r.order_id, list);
  }
  return orders.map((o) => ({ ...o, lines: byOrder.get(o.id) ?? [] }));
}

/** An order of this user; another user's order is indistinguishable from a missing one. */
export async function findOrderForUser(
  db: DbOrTrx,
  userId: number,
  orderId: string,
): Promise<OrderWithLines | undefined> {
  const order = await db
    .selectFrom('orders')
    .selectAll()
    .where('id', '=', orderId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  if (!order) return undefined;
  return (await attachLines(db, [order]))[0];
}

/** Newest first, keyset-paginated by (created_at, id) after the order named by `cursor`. */
export async function listOrdersForUser(
  db: Db,
  userId: number,
  page: { cursor?: string; limit: number },
): Promise<OrderWithLines[]> {
  let query = db
    .selectFrom('orders')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(page.limit);
  if (page.cursor !== undefined) {
    const cursor = page.cursor;
    query = query.where(({ eb, selectFrom, refTuple }) =>
      eb(
        refTuple('created_at', 'id'),
        '<',
        selectFrom('orders as c')
          .select(['c.created_at', 'c.id'])
          .where('c.id', '=', cursor)
          .where('c.user_id', '=', userId)
          .$asTuple('created_at', 'id'),
      ),
    );
  }
  return attachLines(db, await query.execute());
}

/**
 * Expires the order if it is still unpaid and past its hold. The status guard makes this
 * safe against a concurrent payment (whichever commits first wins; the other updates nothing).
 */
export async function expireOrderIfDue(db: DbOrTrx, orderId: string, now: Date): Promise<boolean> {
  const result = await db
    .updateTable('orders')
    .set({ status: 'EXPIRED', closed_at: now })
    .where('id', '=', orderId)
    .where('status', '=', 'PENDING_PAYMENT')
    .where('expires_at', '<=', now)
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

export async function findDuePendingOrderIds(db: Db, now: Date, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom('orders')
    .select('id')
    .where('status', '=', 'PENDING_PAYMENT')
    .where('expires_at', '<=', now)
    .orderBy('expires_at')
    .limit(limit)
    .execute();
  return rows.map((r) => r.id);
}

export async function findOrderStatuses(db: Db, orderIds: string[]): Promise<Map<string, OrderStatus>> {
  if (orderIds.length === 0) return new Map();
  const rows = await db.selectFrom('orders').select(['id', 'status']).where('id', 'in', orderIds).execute();
  return new Map(rows.map((r) => [r.id, r.status]));
}

/** The products of each order's lines (orders without lines, or unknown, are absent). */
export async function findOrderProductIds(db: Db, orderIds: string[]): Promise<Map<string, number[]>> {
  const byOrder = new Map<string, number[]>();
  if (orderIds.length === 0) return byOrder;
  const rows = await db
    .selectFrom('order_lines')
    .select(['order_id', 'product_id'])
    .where('order_id', 'in', orderIds)
    .execute();
  for (const row of rows) {
    const ids = byOrder.get(row.order_id);
    if (ids) ids.push(row.product_id);
    else byOrder.set(row.order_id, [row.product_id]);
  }
  return byOrder;
}

/** True when another open order of this user already uses the coupon. */
export async function couponHeldByPendingOrder(
  db: DbOrTrx,
  userId: number,
  couponId: number,
): Promise<boolean> {
  const row = await db
    .selectFrom('orders')
    .select(sql<number>`1`.as('one'))
    .where('user_id', '=', userId)
    .where('coupon_id', '=', couponId)
    .where('status', '=', 'PENDING_PAYMENT')
    .executeTakeFirst();
  return row !== undefined;
}
