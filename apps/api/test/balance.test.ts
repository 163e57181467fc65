import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createTestServer, type TestServer } from '../../../test/support.ts';

describe('balance.get and balance.charge', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await createTestServer();
  });
  afterAll(() => s.cleanup());

  const charge = async (userId: number, input: unknown) =>
    call(s.app, 'mutation', 'balance.charge', input, await s.token(userId));
  const balanceOf = async (userId: number) =>
    (await call(s.app, 'query', 'balance.get', undefined, await s.token(userId))).body.result.data.balance;
  const ledgerOf = (userId: number) =>
    s.rt.db.selectFrom('balance_ledger').selectAll().where('user_id', '=', userId).execute();
  const keysOf = (userId: number) =>
    s.rt.db.selectFrom('idempotency_keys').selectAll().where('user_id', '=', userId).execute();

  it('charges, answers with the ledger row id, and reads back', async () => {
    const res = await charge(1, { amount: 15_000 });
    expect(res.status).toBe(200);
    const data = res.body.result.data;
    expect(data).toMatchObject({ userId: 1, balance: 15_000 });
    expect(typeof data.transactionId).toBe('string');
    const [row] = await ledgerOf(1);
    expect(row).toMatchObject({ id: data.transactionId, kind: 'CHARGE', amount: 15_000, balance_before: 0 });
    expect(await balanceOf(1)).toBe(15_000);
  });

  it('needs a token', async () => {
    const res = await call(s.app, 'mutation', 'balance.charge', { amount: 5000 });
    expect(res.status).toBe(401);
    expect(res.body.error.data.appCode).toBe('UNAUTHORIZED');
  });

  describe('refuses bad input with the right code and changes nothing', () => {
    const userId = 2;
    const cases: [string, unknown, number, string][] = [
      ['999', { amount: 999 }, 400, 'CHARGE_AMOUNT_TOO_SMALL'],
      ['0', { amount: 0 }, 400, 'CHARGE_AMOUNT_TOO_SMALL'],
      ['1.5', { amount: 1.5 }, 400, 'INVALID_INPUT'],
      ['1000.5', { amount: 1000.5 }, 400, 'INVALID_INPUT'],
      ['a numeric string', { amount: '5000' }, 400, 'INVALID_INPUT'],
      ['a string', { amount: 'lots' }, 400, 'INVALID_INPUT'],
      ['negative', { amount: -5000 }, 400, 'INVALID_INPUT'],
      ['null', { amount: null }, 400, 'INVALID_INPUT'],
      ['a boolean', { amount: true }, 400, 'INVALID_INPUT'],
      ['an array', { amount: [5000] }, 400, 'INVALID_INPUT'],
      ['missing', {}, 400, 'INVALID_INPUT'],
      ['no input at all', undefined, 400, 'INVALID_INPUT'],
      ['an unknown key', { amount: 5000, bonus: 1 }, 400, 'INVALID_INPUT'],
      ['an integer beyond int64', { amount: 1e20 }, 400, 'CHARGE_LIMIT_EXCEEDED'],
      ['a huge float', { amount: 1e308 }, 400, 'CHARGE_LIMIT_EXCEEDED'],
      ['a fraction below the minimum', { amount: 0.5 }, 400, 'INVALID_INPUT'],
      ['over 10,000,000', { amount: 10_000_001 }, 400, 'CHARGE_LIMIT_EXCEEDED'],
      ['far over the limit', { amount: 9_000_000_000_000 }, 400, 'CHARGE_LIMIT_EXCEEDED'],
      ['an empty idempotency key', { amount: 5000, idempotencyKey: '' }, 400, 'INVALID_INPUT'],
      [
        'a 65-character idempotency key',
        { amount: 5000, idempotencyKey: 'k'.repeat(65) },
        400,
        'INVALID_INPUT',
      ],
      ['a numeric idempotency key', { amount: 5000, idempotencyKey: 12 }, 400, 'INVALID_INPUT'],
    ];
    it.each(cases)('%s', async (_name, input, status, appCode) => {
      const res = await charge(userId, input);
      expect(res.status).toBe(status);
      expect(res.body.error.data.appCode).toBe(appCode);
      expect(await balanceOf(userId)).toBe(0);
      expect(await ledgerOf(userId)).toEqual([]);
      expect(await keysOf(userId)).toEqual([]);
    });

    it('a malformed JSON body', async () => {
      const res = await s.app.inject({
        method: 'POST',
        url: '/trpc/balance.charge',
        headers: { authorization: `Bearer ${await s.token(userId)}`, 'content-type': 'application/json' },
        payload: '{"amount": 5000',
      });
      expect(res.statusCode).toBe(400);
      expect(await balanceOf(userId)).toBe(0);
    });
  });

  it('accepts a 64-character idempotency key and exactly 1,000 and 10,000,000', async () => {
    expect((await charge(3, { amount: 1000, idempotencyKey: 'k'.repeat(64) })).status).toBe(200);
    expect((await charge(3, { amount: 10_000_000 })).status).toBe(200);
    expect(await balanceOf(3)).toBe(10_001_000);
  });

  it('refuses a charge that would take the balance over 1,000,000,000, changing nothing', async () => {
    const userId = 4;
    for (let i = 0; i < 99; i++) expect((await charge(userId, { amount: 10_000_000 })).status).toBe(200);
    expect((await charge(userId, { amount: 5_000_000 })).status).toBe(200);
    // 995,000,000 + 10,000,000: a valid single charge, but over the balance cap.
    const over = await charge(userId, { amount: 10_000_000 });
    expect(over.status).toBe(400);
    expect(over.body.error.data.appCode).toBe('CHARGE_LIMIT_EXCEEDED');
    expect(await balanceOf(userId)).toBe(995_000_000);
    expect((await ledgerOf(userId)).length).toBe(100);
    expect((await charge(userId, { amount: 5_000_000 })).body.result.data.balance).toBe(1_000_000_000);
    const atMax = await charge(userId, { amount: 1000 });
    expect(atMax.body.error.data.appCode).toBe('CHARGE_LIMIT_EXCEEDED');
    expect(await balanceOf(userId)).toBe(1_000_000_000);
  });

  it('replays an idempotent charge, and refuses the key with another amount', async () => {
    const userId = 5;
    const first = await charge(userId, { amount: 7000, idempotencyKey: 'charge-1' });
    const replay = await charge(userId, { amount: 7000, idempotencyKey: 'charge-1' });
    expect(replay).toEqual(first);
    const reused = await charge(userId, { amount: 8000, idempotencyKey: 'charge-1' });
    expect(reused.status).toBe(409);
    expect(reused.body.error.data.appCode).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await balanceOf(userId)).toBe(7000);
    expect((await ledgerOf(userId)).length).toBe(1);
  });

  it('charges once for many concurrent calls with one key, all answered alike', async () => {
    const userId = 6;
    const token = await s.token(userId);
    const results = await Promise.all(
      Array.from({ length: 300 }, () =>
        call(s.app, 'mutation', 'balance.charge', { amount: 4000, idempotencyKey: 'same' }, token),
      ),
    );
    expect(new Set(results.map((r) => r.status))).toEqual(new Set([200]));
    expect(new Set(results.map((r) => JSON.stringify(r.body)))).toHaveProperty('size', 1);
    expect(await balanceOf(userId)).toBe(4000);
    expect((await ledgerOf(userId)).length).toBe(1);
  });

  it('keeps balance = sum of ledger rows = sum of successful answers under 1,000 concurrent charges', async () => {
    const userId = 7;
    const token = await s.token(userId);
    // Amounts push the balance past the 1,000,000,000 cap, so some charges must be refused.
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const amounts = Array.from({ length: 1000 }, () => 1000 + Math.floor(random() * 4_000_000));
    const results = await Promise.all(
      amounts.map((amount, i) =>
        call(
          s.app,
          'mutation',
          'balance.charge',
          // Every third call carries a key of its own: the keyed path under load too.
          i % 3 === 0 ? { amount, idempotencyKey: `c-${i}` } : { amount },
          token,
        ),
      ),
    );
    let answered = 0;
    const transactionIds = new Set<string>();
    for (const [i, res] of results.entries()) {
      if (res.status === 200) {
        answered += amounts[i]!;
        transactionIds.add(res.body.result.data.transactionId);
      } else {
        expect(res.status).toBe(400);
        expect(res.body.error.data.appCode).toBe('CHARGE_LIMIT_EXCEEDED');
      }
    }
    const rows = await ledgerOf(userId);
    const ledgerSum = rows.reduce((sum, r) => sum + r.amount, 0);
    const balance = await balanceOf(userId);
    expect(transactionIds.size).toBe(rows.length);
    expect(new Set(rows.map((r) => r.id))).toEqual(transactionIds);
    expect(balance).toBe(ledgerSum);
    expect(balance).toBe(answered);
    expect(balance).toBeLessThanOrEqual(1_000_000_000);
    expect(rows.length).toBeLessThan(1000);
    // The ledger is one unbroken chain: each row starts where the previous one ended.
    const chain = [...rows].sort((a, b) => a.balance_before - b.balance_before);
    let expected = 0;
    for (const r of chain) {
      expect(r.balance_before).toBe(expected);
      expected = r.balance_after;
    }
    expect(expected).toBe(balance);
  });
});
