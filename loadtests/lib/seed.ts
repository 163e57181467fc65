// Seeds a run through the admin API, the way an operator prepares a sale.
import type { Api } from './client.ts';
import { mapLimit } from './client.ts';

export type Product = { id: number; name: string; price: number; stock: number };

export async function createProduct(api: Api, admin: string, input: Omit<Product, 'id'>): Promise<Product> {
  return api.mutate('admin.product.create', input, admin);
}

export async function createCoupon(
  api: Api,
  admin: string,
  input: { name: string; totalQuantity: number; value?: number },
): Promise<number> {
  const { couponId } = await api.mutate<{ couponId: number }>(
    'admin.coupon.create',
    {
      name: input.name,
      discount: { type: 'FIXED', value: input.value ?? 1000 },
      totalQuantity: input.totalQuantity,
    },
    admin,
  );
  return couponId;
}

/** Charges every user `amount` (at most 10,000,000 KRW per charge, by the contract). */
export async function chargeUsers(
  api: Api,
  tokens: string[],
  amount: number,
  concurrency = 32,
): Promise<void> {
  await mapLimit(tokens, concurrency, async (token) => {
    let left = amount;
    while (left > 0) {
      const step = Math.min(left, 10_000_000);
      await api.mutate('balance.charge', { amount: step }, token);
      left -= step;
    }
  });
}
