import { expect } from 'vitest';
import type { Db } from '../src/db/client.ts';
import type { OrderView } from '../src/order/order.service.ts';
import type { OrderLineInput } from '../src/order/order.store.ts';

/**
 * The lines of the i-th buyer of the 400-buyer rush both order tests run: every third buyer
 * orders two lines (2 × `extra`, 1 × `hot`), so one batch or save mixes orders of one and two
 * lines; the others order one `hot`.
 */
export function rushLines(i: number, hot: number, extra: number): OrderLineInput[] {
  return i % 3 === 0
    ? [
        { productId: extra, quantity: 2 },
        { productId: hot, quantity: 1 },
      ]
    : [{ productId: hot, quantity: 1 }];
}

/**
 * Every answered order is in Postgres as it was answered, lines included: committed before the
 * answer (order-batch.test.ts) or saved after it (order-unsaved.test.ts).
 */
export async function expectOrdersInPostgres(db: Db, orders: OrderView[]): Promise<void> {
  const ids = orders.map((o) => o.orderId);
  if (ids.length === 0) return;
  const rows = await db.selectFrom('orders').selectAll().where('id', 'in', ids).execute();
  const lines = await db.selectFrom('order_lines').selectAll().where('order_id', 'in', ids).execute();
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const order of orders) {
    const row = byId.get(order.orderId);
    expect(row).toMatchObject({
      status: 'PENDING_PAYMENT',
      total_amount: order.totalAmount,
      discount_amount: order.discountAmount,
      pay_amount: order.payAmount,
      coupon_id: order.couponId,
    });
    expect(row!.created_at.toISOString()).toBe(order.createdAt);
    expect(row!.expires_at.toISOString()).toBe(order.expiresAt);
    const mine = lines
      .filter((l) => l.order_id === order.orderId)
      .map((l) => ({ productId: l.product_id, quantity: l.quantity, unitPrice: l.unit_price }))
      .sort((a, b) => a.productId - b.productId);
    expect(mine).toEqual(order.items);
  }
}
