import type { TRPCRouterRecord } from '@trpc/server';

// admin.coupon.create arrives with the coupon engine.
export const adminCouponRouter = {} satisfies TRPCRouterRecord;
