import type { AppRouter, RouterOutputs } from '@flash/api';
import { MutationCache, QueryCache, QueryClient } from '@tanstack/react-query';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import { createTRPCContext } from '@trpc/tanstack-react-query';
import { describeError, retryDelayFor, shouldRetry } from './errors';
import { currentToken, signOut } from './session';
import { backToWaitingRoom, passHeaders } from './waiting-room-pass';

export type { RouterOutputs };
export type Product = RouterOutputs['product']['get'];
export type Coupon = RouterOutputs['coupon']['get'];
export type Order = RouterOutputs['order']['get'];
export type OrderStatus = Order['status'];
export type Discount = Coupon['discount'];

export const { TRPCProvider, useTRPC } = createTRPCContext<AppRouter>();

export function createApiClient() {
  return createTRPCClient<AppRouter>({
    links: [
      httpBatchLink({
        url: '/trpc',
        // The API answers at most 10 calls per batch.
        maxItems: 10,
        headers({ opList }) {
          const token = currentToken();
          return token ? { authorization: `Bearer ${token}`, ...passHeaders(opList) } : {};
        },
      }),
    ],
  });
}

export function createQueryClient(): QueryClient {
  // A token the API no longer accepts (expired) ends the session; the page then offers sign-in.
  // A pass a sale's waiting room refused (expired, or none yet) sends the shopper to its page.
  const onError = (error: unknown) => {
    const problem = describeError(error);
    if (problem.code === 'UNAUTHORIZED' && currentToken()) signOut({ ended: true });
    if (problem.code === 'NOT_ADMITTED' && problem.roomId !== undefined) backToWaitingRoom(problem.roomId);
  };
  return new QueryClient({
    queryCache: new QueryCache({ onError }),
    mutationCache: new MutationCache({ onError }),
    defaultOptions: {
      queries: { retry: shouldRetry, retryDelay: retryDelayFor, refetchOnWindowFocus: true },
      // A mutation is retried only when the API asked to wait (RATE_LIMITED): the same
      // variables, so the same idempotency key, go again after retryAfterMs.
      mutations: { retry: shouldRetry, retryDelay: retryDelayFor },
    },
  });
}

/** A fresh idempotency key: 128 random bits (getRandomValues works outside secure contexts too). */
export function newIdempotencyKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
