import { AppError, signToken } from '@flash/core';
import type { TRPCRouterRecord } from '@trpc/server';
import { z } from 'zod';
import { publicProcedure } from '../trpc/init.ts';
import { ZId } from './schemas.ts';

export const devRouter = {
  /**
   * Sign-in for local use (the storefront's dev sign-in, `pnpm dev:web`): a shopper token for
   * any user id, never an admin one. Refused in production, where tokens come from the host's
   * own sign-in (docs/frontend.md).
   */
  token: publicProcedure
    .input(z.strictObject({ userId: ZId }))
    .output(z.object({ userId: z.number(), token: z.string() }))
    .mutation(async ({ ctx, input }) => {
      if (ctx.rt.config.nodeEnv === 'production') {
        throw new AppError('FORBIDDEN', 'Dev sign-in is disabled in production');
      }
      return { userId: input.userId, token: await signToken(ctx.rt.config.jwtSecret, input.userId) };
    }),
} satisfies TRPCRouterRecord;
