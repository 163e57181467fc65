import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRuntime, type TestRuntime } from '../../../test/support.ts';
import { AppError } from '../src/errors.ts';
import {
  canonicalJson,
  findIdempotentResponse,
  purgeIdempotencyKeys,
  requestHash,
  withIdempotency,
} from '../src/idempotency/idempotency.service.ts';

describe('idempotency keys', () => {
  let env: TestRuntime;
  beforeAll(async () => {
    env = await createTestRuntime();
  });
  afterAll(() => env.cleanup());

  const db = () => env.rt.db;
  const userId = 7;

  /** A side effect inside the transaction, so "ran twice" is visible in Postgres. */
  const insertUser = (id: number) =>
    withIdempotency(db(), { userId, scope: 'test', key: `k-${id}`, request: { id } }, async (trx) => {
      await trx.insertInto('users').values({ id }).execute();
      return { id, at: new Date('2026-01-02T03:04:05.000Z') };
    });

  const countUsers = async (id: number) =>
    (await db().selectFrom('users').select('id').where('id', '=', id).execute()).length;

  it('hashes requests independently of key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: 3 } })).toBe(
      '{"a":{"c":3,"d":[2,{"y":2,"z":1}]},"b":1}',
    );
    expect(requestHash({ a: 1, b: 2 })).toBe(requestHash({ b: 2, a: 1 }));
    expect(requestHash({ a: 1 })).not.toBe(requestHash({ a: 2 }));
  });

  it('without a key just runs in a transaction', async () => {
    const result = await withIdempotency(
      db(),
      { userId, scope: 'test', key: undefined, request: {} },
      (trx) => trx.insertInto('users').values({ id: 100 }).returning('id').executeTakeFirstOrThrow(),
    );
    expect(result).toEqual({ id: 100 });
    expect(await countUsers(100)).toBe(1);
  });

  it('replays the first answer (JSON round-tripped) without running again', async () => {
    const first = await insertUser(200);
    expect(first.at).toBeInstanceOf(Date);
    const again = await insertUser(200);
    expect(again).toEqual({ id: 200, at: '2026-01-02T03:04:05.000Z' });
    expect(await countUsers(200)).toBe(1);
    expect(
      await findIdempotentResponse(db(), { userId, scope: 'test', key: 'k-200', request: { id: 200 } }),
    ).toEqual({ response: { id: 200, at: '2026-01-02T03:04:05.000Z' } });
  });

  it('refuses the same key with another request, and changes nothing', async () => {
    await insertUser(300);
    const reuse = withIdempotency(
      db(),
      { userId, scope: 'test', key: 'k-300', request: { id: 301 } },
      async (trx) => {
        await trx.insertInto('users').values({ id: 301 }).execute();
      },
    );
    await expect(reuse).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    expect(await countUsers(301)).toBe(0);
    await expect(
      findIdempotentResponse(db(), { userId, scope: 'test', key: 'k-300', request: { id: 301 } }),
    ).rejects.toBeInstanceOf(AppError);
  });

  it('keeps keys apart per user and per scope', async () => {
    const run = (u: number, scope: string) =>
      withIdempotency(db(), { userId: u, scope, key: 'shared', request: { u, scope } }, async () => ({
        u,
        scope,
      }));
    expect(await run(1, 'a')).toEqual({ u: 1, scope: 'a' });
    expect(await run(2, 'a')).toEqual({ u: 2, scope: 'a' });
    expect(await run(1, 'b')).toEqual({ u: 1, scope: 'b' });
  });

  it('answers unknown keys with undefined', async () => {
    expect(
      await findIdempotentResponse(db(), { userId, scope: 'test', key: 'never', request: {} }),
    ).toBeUndefined();
  });

  it('runs concurrent calls with one key exactly once, and all get the same answer', async () => {
    let runs = 0;
    const calls = Array.from({ length: 200 }, () =>
      withIdempotency(db(), { userId, scope: 'test', key: 'race', request: { id: 400 } }, async (trx) => {
        runs++;
        await trx.insertInto('users').values({ id: 400 }).execute();
        // Hold the key's row lock a little so the others really queue behind it.
        await new Promise((r) => setTimeout(r, 20));
        return { id: 400 };
      }),
    );
    const results = await Promise.all(calls);
    expect(runs).toBe(1);
    expect(results).toEqual(Array.from({ length: 200 }, () => ({ id: 400 })));
    expect(await countUsers(400)).toBe(1);
  });

  it('lets a retry run normally after the first attempt failed', async () => {
    const attempt = (fail: boolean) =>
      withIdempotency(db(), { userId, scope: 'test', key: 'retry', request: { id: 500 } }, async (trx) => {
        await trx.insertInto('users').values({ id: 500 }).execute();
        if (fail) throw new AppError('INSUFFICIENT_BALANCE', 'no', { amount: 1 });
        return { ok: true };
      });
    await expect(attempt(true)).rejects.toMatchObject({ code: 'INSUFFICIENT_BALANCE' });
    expect(await countUsers(500)).toBe(0);
    expect(
      await findIdempotentResponse(db(), { userId, scope: 'test', key: 'retry', request: { id: 500 } }),
    ).toBe(undefined);
    expect(await attempt(false)).toEqual({ ok: true });
    expect(await countUsers(500)).toBe(1);
  });

  it('runs a waiting call itself when the first one rolls back', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let entered!: () => void;
    const inside = new Promise<void>((r) => {
      entered = r;
    });
    let secondRan = false;
    const first = withIdempotency(db(), { userId, scope: 'test', key: 'wait', request: {} }, async () => {
      // The key row is inserted (uncommitted) before the work runs.
      entered();
      await gate;
      throw new Error('boom');
    });
    await inside;
    const second = withIdempotency(db(), { userId, scope: 'test', key: 'wait', request: {} }, async () => {
      secondRan = true;
      return 'second';
    });
    // The second call is blocked on the first one's uncommitted key row (an ungranted lock of
    // this database) before the first rolls back: it really waited, it did not just come later.
    await expect
      .poll(async () => {
        const { rows } = await sql<{ waiting: string }>`
          SELECT count(*) AS waiting FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE NOT l.granted AND a.datname = current_database()`.execute(db());
        return Number(rows[0]!.waiting);
      })
      .toBeGreaterThan(0);
    release();
    await expect(first).rejects.toThrow('boom');
    expect(await second).toBe('second');
    expect(secondRan).toBe(true);
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
