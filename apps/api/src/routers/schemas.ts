import { z } from 'zod';

/** Shapes shared by several routers; each router keeps the ones only it uses. */
export const ZId = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
export const ZProduct = z.object({ id: z.number(), name: z.string(), price: z.number(), stock: z.number() });

/** Client-chosen idempotency key (`balance.charge`, `order.create`, `payment.pay`): 1..64 characters. */
export const ZIdempotencyKey = z.string().min(1).max(64);
