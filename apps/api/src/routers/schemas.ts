import { z } from 'zod';

/** Shapes shared by several routers; each router keeps the ones only it uses. */
// zod's .int() already bounds a number to the safe integers: a .max(MAX_SAFE_INTEGER) on top
// made an id above 2^53 report "Too big" twice.
export const ZId = z.number().int().positive();

/**
 * The input of a procedure that takes none: nothing (what the typed client sends), or an empty
 * object; any key is refused, as the strict objects of the other procedures refuse unknown keys.
 */
export const ZNoInput = z.strictObject({}).optional();
export const ZProduct = z.object({
  id: z.number(),
  name: z.string(),
  price: z.number(),
  stock: z.number(),
  imageUrl: z.string().nullable(),
});

// Unicode category Cc: the C0 and C1 control characters, NUL among them.
const CONTROL = /\p{Cc}/u;

/**
 * Text that Postgres stores exactly as sent: no NUL (Postgres refuses it in text, which would
 * surface as a server error), no other control characters, no unpaired surrogates (they would
 * be stored as U+FFFD, so two different inputs could become one key or name).
 */
export const isPlainText = (value: string): boolean => value.isWellFormed() && !CONTROL.test(value);
const PLAIN_TEXT = { message: 'must not contain control characters or unpaired surrogates' };

/** A display name (products, coupons): trimmed, 1..200 characters. */
export const ZName = z.string().trim().min(1).max(200).refine(isPlainText, PLAIN_TEXT);

/** Client-chosen idempotency key (`balance.charge`, `order.create`, `payment.pay`): 1..64 characters. */
export const ZIdempotencyKey = z.string().min(1).max(64).refine(isPlainText, PLAIN_TEXT);
