import type { AppRouter } from '@flash/api';
import { createTRPCClient, httpBatchLink } from '@trpc/client';

export const client = createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: '/trpc' })] });

// A browser has neither: importing the router type must not declare them (lines 8 and 9 fail).
export const secret = process.env.API_SECRET;
export const bytes = Buffer.from('x');
