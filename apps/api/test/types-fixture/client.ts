import type { AppRouter, RouterInputs, RouterOutputs } from '@flash/api';
import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';

const client = createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: '/trpc', maxItems: 10 })] });

type AppCode = NonNullable<NonNullable<TRPCClientError<AppRouter>['data']>['appCode']>;

export async function claim(couponId: number): Promise<AppCode | 'ISSUED'> {
  const coupon: RouterOutputs['coupon']['get'] = await client.coupon.get.query({ couponId });
  const input: RouterInputs['coupon']['issue'] = { couponId: coupon.id };
  try {
    return (await client.coupon.issue.mutate(input)).status;
  } catch (err) {
    if (err instanceof TRPCClientError) {
      const code = (err as TRPCClientError<AppRouter>).data?.appCode;
      if (code) return code;
    }
    throw err;
  }
}
