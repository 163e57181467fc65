import { sql, type Transaction } from 'kysely';
import type { Db } from '../db/client.ts';
import type { Database, OrderRow, OrderStatus } from '../db/database.ts';

type DbOrTrx = Db | Transaction<Database>;

export type OrderLine = { productId: number; quantity: number; unitPrice: number };
export type OrderWithLines = OrderRow & { lines: OrderLine[] };

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
 * Locks the user's order row for the payment transaction: concurrent payments and the
 * expiry job queue behind this lock, so exactly one of them decides the order's fate.
 */
export async function lockOrderForPayment(
  trx: Transaction<Database>,
  userId: number,
  orderId: string,
): Promise<OrderWithLines | undefined> {
  const order = await trx
    .selectFrom('orders')
    .selectAll()
    .where('id', '=', orderId)
    .where('user_id', '=', userId)
    .forUpdate()
    .executeTakeFirst();
  if (!order) return undefined;
  return (await attachLines(trx, [order]))[0];
}

export async function markOrderPaid(
  trx: Transaction<Database>,
  orderId: string,
  now: Date,
): Promise<boolean> {
  const result = await trx
    .updateTable('orders')
    .set({ status: 'PAID', paid_at: now })
    .where('id', '=', orderId)
    .where('status', '=', 'PENDING_PAYMENT')
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
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
