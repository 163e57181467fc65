import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRuntime, type TestRuntime } from '../../../test/support.ts';
import { AppError } from '../src/errors.ts';
import {
  canonicalJson,
  findIdempotentResponse,
  purgeIdempotencyKeys,
  requestHash,
} from '../src/idempotency/idempotency.service.ts';

// How keys are claimed and answered inside the group commits (balance, order, payment) is tested
// through the API (order-payment, balance, property tests); this file covers the shared pieces.
describe('idempotency keys', () => {
  let env: TestRuntime;
  beforeAll(async () => {
    env = await createTestRuntime();
  });
  afterAll(() => env.cleanup());

  const db = () => env.rt.db;
  const userId = 7;

  it('hashes requests independently of key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: 3 } })).toBe(
      '{"a":{"c":3,"d":[2,{"y":2,"z":1}]},"b":1}',
    );
    expect(requestHash({ a: 1, b: 2 })).toBe(requestHash({ b: 2, a: 1 }));
    expect(requestHash({ a: 1 })).not.toBe(requestHash({ a: 2 }));
  });

  it('answers unknown keys with undefined', async () => {
    expect(
      await findIdempotentResponse(db(), { userId, scope: 'test', key: 'never', request: {} }),
    ).toBeUndefined();
  });

  it('replays a stored answer for the same request, and refuses the key for another one', async () => {
    const request = { amount: 5_000 };
    await db()
      .insertInto('idempotency_keys')
      .values({
        user_id: userId,
        scope: 'test',
        key: 'stored',
        request_hash: requestHash(request),
        response: JSON.stringify({ balance: 5_000 }),
      })
      .execute();
    const req = { userId, scope: 'test', key: 'stored' };
    expect(await findIdempotentResponse(db(), { ...req, request: { amount: 5_000 } })).toEqual({
      response: { balance: 5_000 },
    });
    const other = findIdempotentResponse(db(), { ...req, request: { amount: 6_000 } });
    await expect(other).rejects.toBeInstanceOf(AppError);
    await expect(other).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    // Keys are per user and per scope.
    expect(await findIdempotentResponse(db(), { ...req, userId: 8, request })).toBeUndefined();
    expect(await findIdempotentResponse(db(), { ...req, scope: 'other', request })).toBeUndefined();
  });

  it('purges keys older than the cutoff only', async () => {
    await db()
      .insertInto('idempotency_keys')
      .values(
        Array.from({ length: 12 }, (_, i) => ({
          user_id: 999,
          scope: 'old',
          key: `old-${i}`,
          request_hash: 'x',
          response: null,
          created_at: new Date(Date.now() - 48 * 3600_000),
        })),
      )
      .execute();
    const before = await db().selectFrom('idempotency_keys').select('key').execute();
    const purged = await purgeIdempotencyKeys(db(), new Date(Date.now() - 24 * 3600_000), 5);
    expect(purged).toBe(12);
    const after = await db().selectFrom('idempotency_keys').select('key').execute();
    expect(after.length).toBe(before.length - 12);
    expect(after.some((r) => r.key.startsWith('old-'))).toBe(false);
  });
});
