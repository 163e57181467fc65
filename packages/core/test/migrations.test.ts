import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../../../test/support.ts';
import { createDb, type Db } from '../src/db/client.ts';
import { migrateToLatest, migrateToNone } from '../src/db/migrate.ts';

async function tables(db: Db): Promise<string[]> {
  const { rows } = await sql<{ table_name: string }>`
    SELECT table_name FROM information_schema.tables
    WHERE table_schema = 'public' AND table_name NOT LIKE 'kysely_%' ORDER BY table_name`.execute(db);
  return rows.map((r) => r.table_name);
}

describe('migrations', () => {
  let env: TestEnv;
  let db: Db;
  beforeAll(async () => {
    env = await createTestEnv();
    db = createDb(env.config.databaseUrl, { max: 2 });
  });
  afterAll(async () => {
    await db.destroy();
    await env.cleanup();
  });

  it('go down to nothing and up again', async () => {
    const all = [
      'balance_ledger',
      'coupons',
      'idempotency_keys',
      'issued_coupons',
      'order_lines',
      'orders',
      'outbox',
      'payments',
      'products',
      'sales',
      'users',
      'waiting_rooms',
    ];
    expect(await tables(db)).toEqual(all);
    const down = await migrateToNone(db);
    expect(down.every((l) => l.startsWith('reverted'))).toBe(true);
    expect(await tables(db)).toEqual([]);
    const up = await migrateToLatest(db);
    expect(up.length).toBeGreaterThan(0);
    expect(await tables(db)).toEqual(all);
    expect(await migrateToLatest(db)).toEqual([]);
  });

  it('enforces the money and stock constraints', async () => {
    await expect(db.insertInto('users').values({ id: 1, balance: -1 }).execute()).rejects.toThrow(
      /users_balance_range/,
    );
    await expect(
      db.insertInto('products').values({ name: 'p', price: 1, stock: -1 }).execute(),
    ).rejects.toThrow(/check constraint/);
    await db.insertInto('users').values({ id: 2, balance: 0 }).execute();
    await expect(
      db
        .insertInto('balance_ledger')
        .values({ user_id: 2, kind: 'CHARGE', amount: 1000, balance_before: 0, balance_after: 999 })
        .execute(),
    ).rejects.toThrow(/balance_ledger_arithmetic/);
  });

  it('keeps one issued coupon per coupon and user', async () => {
    const coupon = await db
      .insertInto('coupons')
      .values({ name: 'c', discount_type: 'FIXED', discount_value: 100, total_quantity: 1 })
      .returning('id')
      .executeTakeFirstOrThrow();
    const row = { coupon_id: coupon.id, user_id: 7, issued_at: new Date() };
    await db.insertInto('issued_coupons').values(row).execute();
    await expect(db.insertInto('issued_coupons').values(row).execute()).rejects.toThrow(/duplicate key/);
  });
});
