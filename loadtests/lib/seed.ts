// Seeds a benchmark run through the admin API, the way an operator prepares a sale.
import { type Api, mapLimit } from './client.ts';

export type Product = { id: number; name: string; price: number; stock: number };

export function createProduct(api: Api, admin: string, input: Omit<Product, 'id'>): Promise<Product> {
  return api.mutate('admin.product.create', input, admin);
}

export async function createCoupon(
  api: Api,
  admin: string,
  input: { name: string; totalQuantity: number; value?: number },
): Promise<number> {
  const discount = { type: 'FIXED', value: input.value ?? 1000 };
  const created = await api.mutate(
    'admin.coupon.create',
    { name: input.name, discount, totalQuantity: input.totalQuantity },
    admin,
  );
  return created.couponId;
}

/** Charges every user `amount` (at most 10,000,000 KRW per charge, by the contract). */
export async function chargeUsers(
  api: Api,
  tokens: string[],
  amount: number,
  concurrency = 32,
): Promise<void> {
  await mapLimit(tokens, concurrency, async (token) => {
    for (let left = amount; left > 0; left -= 10_000_000)
      await api.mutate('balance.charge', { amount: Math.min(left, 10_000_000) }, token);
  });
}
