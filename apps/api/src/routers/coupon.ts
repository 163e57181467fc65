import type { TRPCRouterRecord } from '@trpc/server';

// coupon.issue and coupon.mine arrive with the coupon engine.
export const couponRouter = {} satisfies TRPCRouterRecord;
