import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRuntime, type TestRuntime } from '../../../test/support.ts';
import { debitBalance, findBalance, MAX_BALANCE } from '../src/balance/balance.repository.ts';
import { chargeBalance, getBalance, MAX_CHARGE, MIN_CHARGE } from '../src/balance/balance.service.ts';

describe('balance', () => {
  let env: TestRuntime;
  beforeAll(async () => {
    env = await createTestRuntime();
  });
  afterAll(() => env.cleanup());

  const ledger = (userId: number) =>
    env.rt.db
      .selectFrom('balance_ledger')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('balance_after')
      .execute();

  const expectNothingChanged = async (userId: number, balance: number, ledgerRows: number) => {
    expect(await findBalance(env.rt.db, userId)).toBe(balance);
    expect((await ledger(userId)).length).toBe(ledgerRows);
  };

  it('starts a user never seen at 0 without creating a row', async () => {
    expect(await getBalance(env.rt, 1)).toEqual({ userId: 1, balance: 0 });
    expect(await env.rt.db.selectFrom('users').select('id').where('id', '=', 1).execute()).toEqual([]);
  });

  it('charges and writes one ledger row with before and after', async () => {
    const first = await chargeBalance(env.rt, 2, { amount: 5000 });
    expect(first).toMatchObject({ userId: 2, balance: 5000 });
    const second = await chargeBalance(env.rt, 2, { amount: MIN_CHARGE });
    expect(second.balance).toBe(6000);
    const rows = await ledger(2);
    expect(rows.map((r) => [r.kind, r.amount, r.balance_before, r.balance_after, r.id])).toEqual([
      ['CHARGE', 5000, 0, 5000, first.transactionId],
      ['CHARGE', 1000, 5000, 6000, second.transactionId],
    ]);
  });

  it.each([
    [0, 'CHARGE_AMOUNT_TOO_SMALL'],
    [999, 'CHARGE_AMOUNT_TOO_SMALL'],
    [MAX_CHARGE + 1, 'CHARGE_LIMIT_EXCEEDED'],
    [1e20, 'CHARGE_LIMIT_EXCEEDED'],
    [Number.NaN, 'INVALID_INPUT'],
    [Number.POSITIVE_INFINITY, 'INVALID_INPUT'],
    [1.5, 'INVALID_INPUT'],
    [-1000, 'INVALID_INPUT'],
  ])('refuses amount %s with %s and changes nothing', async (amount, code) => {
    await expect(chargeBalance(env.rt, 3, { amount })).rejects.toMatchObject({ code });
    await expectNothingChanged(3, 0, 0);
  });

  it('accepts exactly the limits', async () => {
    expect((await chargeBalance(env.rt, 4, { amount: MAX_CHARGE })).balance).toBe(MAX_CHARGE);
  });

  it('refuses a charge that would take the balance over the maximum, and changes nothing', async () => {
    const userId = 5;
    await env.rt.db
      .insertInto('users')
      .values({ id: userId, balance: MAX_BALANCE - 5000 })
      .execute();
    await expect(chargeBalance(env.rt, userId, { amount: 6000 })).rejects.toMatchObject({
      code: 'CHARGE_LIMIT_EXCEEDED',
    });
    await expectNothingChanged(userId, MAX_BALANCE - 5000, 0);
    // Landing exactly on the maximum is allowed.
    expect((await chargeBalance(env.rt, userId, { amount: 5000 })).balance).toBe(MAX_BALANCE);
  });

  it('replays a charge with the same idempotency key and refuses the key with another amount', async () => {
    const userId = 6;
    const first = await chargeBalance(env.rt, userId, { amount: 2000, idempotencyKey: 'k1' });
    expect(await chargeBalance(env.rt, userId, { amount: 2000, idempotencyKey: 'k1' })).toEqual(first);
    await expect(chargeBalance(env.rt, userId, { amount: 3000, idempotencyKey: 'k1' })).rejects.toMatchObject(
      {
        code: 'IDEMPOTENCY_KEY_REUSED',
      },
    );
    await expectNothingChanged(userId, 2000, 1);
    // The same key from another user is another key.
    expect((await chargeBalance(env.rt, 60, { amount: 3000, idempotencyKey: 'k1' })).balance).toBe(3000);
  });

  it('does not record a key whose charge failed, so a valid retry runs', async () => {
    const userId = 7;
    await env.rt.db.insertInto('users').values({ id: userId, balance: MAX_BALANCE }).execute();
    await expect(chargeBalance(env.rt, userId, { amount: 1000, idempotencyKey: 'x' })).rejects.toMatchObject({
      code: 'CHARGE_LIMIT_EXCEEDED',
    });
    await env.rt.db.updateTable('users').set({ balance: 0 }).where('id', '=', userId).execute();
    expect((await chargeBalance(env.rt, userId, { amount: 1000, idempotencyKey: 'x' })).balance).toBe(1000);
  });

  it('treats a key purged from the key table but still on the ledger as reused', async () => {
    const userId = 8;
    await chargeBalance(env.rt, userId, { amount: 1000, idempotencyKey: 'purged' });
    await env.rt.db.deleteFrom('idempotency_keys').where('user_id', '=', userId).execute();
    await expect(
      chargeBalance(env.rt, userId, { amount: 1000, idempotencyKey: 'purged' }),
    ).rejects.toMatchObject({
      code: 'IDEMPOTENCY_KEY_REUSED',
    });
    await expectNothingChanged(userId, 1000, 1);
  });

  it('group commit: 2,000 parallel charges of 50 users, keyed, keyless and repeated keys, near the maximum, keep every invariant', async () => {
    const users = Array.from({ length: 50 }, (_, i) => 1000 + i);
    // Ten users start 20,000 below the maximum, so some of their charges must be refused.
    for (const u of users.slice(0, 10)) {
      await env.rt.db
        .insertInto('users')
        .values({ id: u, balance: MAX_BALANCE - 20_000 })
        .execute();
    }
    const calls = Array.from({ length: 2000 }, (_, i) => {
      const userId = users[i % users.length]!;
      // Every third call carries a key; keys repeat four times, the repeats racing the first.
      const key = i % 3 === 0 ? `k-${Math.floor(i / 12)}` : undefined;
      const amount = key === undefined ? 1000 + (i % 7) * 1000 : 5000;
      return { userId, amount, key };
    });
    const results = await Promise.allSettled(
      calls.map((c) => chargeBalance(env.rt, c.userId, { amount: c.amount, idempotencyKey: c.key })),
    );
    expect(results.some((r) => r.status === 'rejected')).toBe(true);
    const byKey = new Map<string, unknown[]>();
    for (const [i, r] of results.entries()) {
      const c = calls[i]!;
      if (r.status === 'rejected') {
        expect(r.reason).toMatchObject({ code: 'CHARGE_LIMIT_EXCEEDED' });
        expect(users.slice(0, 10)).toContain(c.userId);
        continue;
      }
      if (c.key !== undefined) {
        const answers = byKey.get(`${c.userId}:${c.key}`) ?? [];
        byKey.set(`${c.userId}:${c.key}`, [...answers, r.value]);
      }
    }
    // Every call with one key got the same answer: one charge.
    for (const answers of byKey.values()) for (const a of answers) expect(a).toEqual(answers[0]);
    for (const u of users) {
      const rows = await ledger(u);
      const start = u < 1010 ? MAX_BALANCE - 20_000 : 0;
      // The ledger is a chain from the start to the balance, each row's before the last's after.
      let at = start;
      for (const row of rows) {
        expect(row.balance_before).toBe(at);
        expect(row.balance_after).toBe(at + row.amount);
        at = row.balance_after;
      }
      expect(await findBalance(env.rt.db, u)).toBe(at);
      expect(at).toBeLessThanOrEqual(MAX_BALANCE);
      // Each key charged at most once.
      const keys = rows.flatMap((r) => (r.idempotency_key === null ? [] : [r.idempotency_key]));
      expect(new Set(keys).size).toBe(keys.length);
      // The successful answers of this user are exactly its ledger rows (repeats replay one).
      const answered = new Set(
        results.flatMap((r, i) =>
          r.status === 'fulfilled' && calls[i]!.userId === u ? [r.value.transactionId] : [],
        ),
      );
      expect([...answered].sort()).toEqual(rows.map((r) => r.id).sort());
    }
  });

  describe('debitBalance', () => {
    const debit = (userId: number, amount: number) =>
      env.rt.db
        .transaction()
        .execute((trx) => debitBalance(trx, { userId, amount, paymentId: randomUUID() }));

    it('debits and writes a PAYMENT ledger row', async () => {
      await chargeBalance(env.rt, 20, { amount: 10_000 });
      expect(await debit(20, 4000)).toEqual({ balanceBefore: 10_000, balanceAfter: 6000 });
      const rows = await ledger(20);
      expect(rows.find((r) => r.kind === 'PAYMENT')).toMatchObject({
        amount: 4000,
        balance_before: 10_000,
        balance_after: 6000,
      });
    });

    it('refuses more than the balance (and a user never seen) with INSUFFICIENT_BALANCE', async () => {
      await chargeBalance(env.rt, 21, { amount: 1000 });
      await expect(debit(21, 1001)).rejects.toMatchObject({ code: 'INSUFFICIENT_BALANCE' });
      await expectNothingChanged(21, 1000, 1);
      await expect(debit(22, 1)).rejects.toMatchObject({ code: 'INSUFFICIENT_BALANCE' });
    });

    it('lets a 0 KRW payment through without a ledger row, even for a user never seen', async () => {
      expect(await debit(23, 0)).toEqual({ balanceBefore: 0, balanceAfter: 0 });
      await expectNothingChanged(23, 0, 0);
    });

    it('never spends the same money twice under concurrency', async () => {
      const userId = 24;
      await chargeBalance(env.rt, userId, { amount: 100_000 });
      const results = await Promise.allSettled(Array.from({ length: 300 }, () => debit(userId, 1000)));
      const ok = results.filter((r) => r.status === 'fulfilled').length;
      expect(ok).toBe(100);
      for (const r of results) {
        if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'INSUFFICIENT_BALANCE' });
      }
      await expectNothingChanged(userId, 0, 101);
    });
  });
});
