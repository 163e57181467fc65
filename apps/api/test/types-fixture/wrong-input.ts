import type { AppRouter } from '@flash/api';
import { createTRPCClient, httpBatchLink } from '@trpc/client';

const client = createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: '/trpc' })] });

// The amount is a number in the router's input schema: this line must not compile.
export const charged = client.balance.charge.mutate({ amount: '50000' });
