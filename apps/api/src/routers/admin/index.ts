import type { TRPCRouterRecord } from '@trpc/server';
import { adminCouponRouter } from './coupon.ts';
import { adminProductRouter } from './product.ts';
import { adminWaitingRoomRouter } from './waiting-room.ts';

/** `admin.*`: every procedure here is an adminProcedure (role "admin" in the token). */
export const adminRouter = {
  coupon: adminCouponRouter,
  product: adminProductRouter,
  waitingRoom: adminWaitingRoomRouter,
} satisfies TRPCRouterRecord;
