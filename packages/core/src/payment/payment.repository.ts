import { sql, type Transaction } from 'kysely';
import type { Database } from '../db/database.ts';

export async function insertPayment(
  trx: Transaction<Database>,
  payment: { id: string; orderId: string; userId: number; amount: number; createdAt: Date },
): Promise<void> {
  await trx
    .insertInto('payments')
    .values({
      id: payment.id,
      order_id: payment.orderId,
      user_id: payment.userId,
      amount: payment.amount,
      created_at: payment.createdAt,
    })
    .execute();
}

/**
 * Moves held units from on-hand stock to sold, all lines in one statement. The `stock >=
 * quantity` guard and the CHECK constraint make Postgres refuse to go negative even if Redis
 * were ever wrong; returns how many lines were committed.
 */
export async function commitStock(
  trx: Transaction<Database>,
  lines: { productId: number; quantity: number }[],
): Promise<number> {
  if (lines.length === 0) return 0;
  const values = sql.join(lines.map((l) => sql`(${l.productId}::bigint, ${l.quantity}::int)`));
  const result = await sql`
    UPDATE products p SET stock = p.stock - l.quantity, updated_at = now()
    FROM (VALUES ${values}) AS l(product_id, quantity)
    WHERE p.id = l.product_id AND p.stock >= l.quantity`.execute(trx);
  return Number(result.numAffectedRows ?? 0n);
}

export async function insertSales(
  trx: Transaction<Database>,
  orderId: string,
  lines: { productId: number; quantity: number }[],
  soldAt: Date,
): Promise<void> {
  await trx
    .insertInto('sales')
    .values(
      lines.map((l) => ({
        order_id: orderId,
        product_id: l.productId,
        quantity: l.quantity,
        sold_at: soldAt,
      })),
    )
    .execute();
}

export async function markCouponUsed(
  trx: Transaction<Database>,
  use: { couponId: number; userId: number; orderId: string; usedAt: Date },
): Promise<boolean> {
  const result = await trx
    .updateTable('issued_coupons')
    .set({ status: 'USED', used_order_id: use.orderId, used_at: use.usedAt })
    .where('coupon_id', '=', use.couponId)
    .where('user_id', '=', use.userId)
    .where('status', '=', 'AVAILABLE')
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}
