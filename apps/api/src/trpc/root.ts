import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import { adminRouter } from '../routers/admin/index.ts';
import { balanceRouter } from '../routers/balance.ts';
import { couponRouter } from '../routers/coupon.ts';
import { devRouter } from '../routers/dev.ts';
import { orderRouter } from '../routers/order.ts';
import { paymentRouter } from '../routers/payment.ts';
import { productRouter } from '../routers/product.ts';
import { waitingRoomRouter } from '../routers/waiting-room.ts';
import { router } from './init.ts';

export const appRouter = router({
  admin: adminRouter,
  balance: balanceRouter,
  coupon: couponRouter,
  dev: devRouter,
  order: orderRouter,
  payment: paymentRouter,
  product: productRouter,
  waitingRoom: waitingRoomRouter,
});

export type AppRouter = typeof appRouter;
export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;
