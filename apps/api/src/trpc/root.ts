import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import { adminRouter } from '../routers/admin.ts';
import { balanceRouter } from '../routers/balance.ts';
import { productRouter } from '../routers/product.ts';
import { router } from './init.ts';

export const appRouter = router({
  admin: adminRouter,
  balance: balanceRouter,
  product: productRouter,
});

export type AppRouter = typeof appRouter;
export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;
