import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { reconcile } from '@flash/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Child, startChild } from '../../../test/processes.ts';
import { call, createTestServer, type TestServer } from '../../../test/support.ts';
import { sleep, waitFor, workerReady } from '../../api/test/faults-helpers.ts';

/**
 * The worker process SIGKILLed five times in a row, each time in the middle of persisting
 * (inside a Postgres transaction that writes issuances, expires an order or marks an export
 * done), while the API keeps taking coupon issues, orders and payments. Afterwards, with one
 * worker left to finish: every answered issuance is one row, every answered order one row,
 * every paid order one payment, one ledger debit and one outbox message, every unpaid order
 * expired with its stock back, every paid order delivered to the data platform or still
 * waiting in the outbox, and Redis agrees with Postgres to the unit.
 */

const KILLS = 5;
/** Worker statements slowed down (for the worker only) so that each kill lands inside one. */
const SLOWED = [
  { table: 'issued_coupons', event: 'INSERT', what: 'persisting issuances' },
  { table: 'orders', event: 'UPDATE', what: 'expiring an order' },
  { table: 'outbox', event: 'UPDATE', what: 'marking an export done' },
] as const;

describe('fault: worker killed (SIGKILL) mid-persist, five times in a row, while the sale goes on', () => {
  let s: TestServer;
  let admin: pg.Pool;
  let platform: Server;
  const delivered: string[] = [];
  const workers: Child[] = [];

  beforeAll(async () => {
    // The data platform: records each delivery's idempotency key (the paid order id).
    platform = createServer((req, res) => {
      delivered.push(String(req.headers['idempotency-key']).replace(/^order\.paid:/, ''));
      req.resume();
      req.on('end', () => res.writeHead(200).end());
    });
    await new Promise<void>((r) => platform.listen(0, '127.0.0.1', r));
    const platformUrl = `http://127.0.0.1:${(platform.address() as AddressInfo).port}/events`;
    s = await createTestServer({
      overrides: {
        // Short holds, so unpaid orders expire (a worker job) while the test runs.
        ORDER_HOLD_SECONDS: '3',
        DATA_PLATFORM_URL: platformUrl,
        // Every simulated client shares one address: the per-IP limit is not what is tested here.
        RATE_LIMIT_IP_PER_SEC: '0',
      },
    });
    admin = new pg.Pool({ connectionString: s.config.databaseUrl, max: 2 });
    const dbName = new URL(s.config.databaseUrl).pathname.slice(1);
    // Postgres notices the killed client within 100 ms, even mid-statement, and rolls back.
    await admin.query(
      `ALTER DATABASE ${pg.escapeIdentifier(dbName)} SET client_connection_check_interval = '100ms'`,
    );
    await admin.query(`CREATE FUNCTION slow_worker() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF current_setting('application_name') = 'flash-sale-worker' THEN PERFORM pg_sleep(0.15); END IF;
        RETURN NULL;
      END $$`);
    for (const { table, event } of SLOWED) {
      await admin.query(`CREATE TRIGGER slow_worker AFTER ${event} ON ${table}
        FOR EACH STATEMENT EXECUTE FUNCTION slow_worker()`);
    }
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await admin?.end();
    await s?.cleanup();
    await new Promise((r) => platform?.close(r));
  });

  it('every answered issuance, order and payment ends in Postgres exactly once', async () => {
    const adminToken = await s.token(1, { admin: true });
    const couponId = (
      await call(
        s.app,
        'mutation',
        'admin.coupon.create',
        { name: 'k', discount: { type: 'FIXED', value: 300 }, totalQuantity: 100_000 },
        adminToken,
      )
    ).body.result.data.couponId;
    const stock = 100_000;
    const productId = (
      await call(s.app, 'mutation', 'admin.product.create', { name: 'k', price: 1_000, stock }, adminToken)
    ).body.result.data.id;

    // ---- the sale: lanes of buyers; each charges, takes the coupon, orders (two units, with the
    // coupon every other time) and pays two orders out of three.
    type Buyer = {
      userId: number;
      issued?: boolean;
      orderId?: string;
      payAmount?: number;
      couponOnOrder?: boolean;
      paid?: { paymentId: string; amount: number };
      payRefused?: string;
    };
    const buyers: Buyer[] = [];
    let stop = false;
    let nextUser = 1_000;
    const lane = async () => {
      while (!stop) {
        const b: Buyer = { userId: nextUser++ };
        buyers.push(b);
        const token = await s.token(b.userId);
        expect((await call(s.app, 'mutation', 'balance.charge', { amount: 10_000 }, token)).status).toBe(200);
        const issue = await call(s.app, 'mutation', 'coupon.issue', { couponId }, token);
        expect(issue.status).toBe(200);
        b.issued = true;
        b.couponOnOrder = b.userId % 2 === 0;
        const order = await call(
          s.app,
          'mutation',
          'order.create',
          { items: [{ productId, quantity: 2 }], ...(b.couponOnOrder ? { couponId } : {}) },
          token,
        );
        expect(order.status).toBe(200);
        b.orderId = order.body.result.data.orderId;
        b.payAmount = order.body.result.data.payAmount;
        if (b.userId % 3 === 0) continue;
        const pay = await call(s.app, 'mutation', 'payment.pay', { orderId: b.orderId }, token);
        if (pay.status === 200) b.paid = pay.body.result.data;
        else b.payRefused = pay.body.error.data.appCode;
      }
    };
    const lanes = Array.from({ length: 12 }, lane);

    // ---- five workers, each SIGKILLed while inside a slowed persistence statement
    const interrupted: string[] = [];
    const inFlight = async () => {
      const { rows } = await admin.query<{ query: string }>(
        `SELECT query FROM pg_stat_activity
          WHERE datname = current_database() AND application_name = 'flash-sale-worker'
            AND state = 'active' AND wait_event = 'PgSleep'`,
      );
      return rows[0]?.query;
    };
    for (let kill = 0; kill < KILLS; kill++) {
      const worker = startChild('worker', s.childEnv);
      workers.push(worker);
      await workerReady(worker);
      const statement = await waitFor('the worker to be mid-persist', inFlight, 30_000);
      await worker.kill('SIGKILL');
      interrupted.push(SLOWED.find((t) => statement.includes(t.table))?.what ?? statement);
    }
    expect(interrupted).toHaveLength(KILLS);

    // ---- one more worker finishes the job; the sale stops a moment later
    const last = startChild('worker', s.childEnv);
    workers.push(last);
    await workerReady(last);
    await sleep(500);
    stop = true;
    await Promise.all(lanes);
    for (const { table } of SLOWED) await admin.query(`DROP TRIGGER slow_worker ON ${table}`);

    const issued = buyers.filter((b) => b.issued);
    const ordered = buyers.filter((b) => b.orderId);
    const paid = buyers.filter((b) => b.paid);
    const unpaid = ordered.filter((b) => !b.paid);
    expect(paid.length).toBeGreaterThan(0);
    expect(unpaid.length).toBeGreaterThan(0);
    // A payment can only be refused because the (short) hold ran out first.
    for (const b of buyers.filter((x) => x.payRefused)) expect(b.payRefused).toBe('ORDER_NOT_PAYABLE');

    // Issuances: exactly one row per answered issue, once the pending stream is drained (its
    // entries are deleted only after their rows committed).
    await waitFor(
      'the pending issuances to be persisted',
      async () => (await s.rt.redis.exists(s.rt.keys.coupon(couponId).pending)) === 0,
      30_000,
    );
    const rows = (
      await admin.query<{ user_id: number; status: string; used_order_id: string | null }>(
        'SELECT user_id::int, status, used_order_id FROM issued_coupons WHERE coupon_id = $1',
        [couponId],
      )
    ).rows;
    expect(rows.map((r) => r.user_id).sort((a, b) => a - b)).toEqual(issued.map((b) => b.userId));
    // A coupon is USED exactly when it paid for its order.
    const used = new Map(rows.filter((r) => r.status === 'USED').map((r) => [r.user_id, r.used_order_id]));
    expect(used).toEqual(new Map(paid.filter((b) => b.couponOnOrder).map((b) => [b.userId, b.orderId])));

    // Orders: one row each; paid ones PAID, the others EXPIRED by the worker.
    await waitFor(
      'every unpaid order to expire',
      async () =>
        Number(
          (await admin.query(`SELECT count(*) FROM orders WHERE status = 'PENDING_PAYMENT'`)).rows[0].count,
        ) === 0,
      30_000,
    );
    const orders = (
      await admin.query<{ id: string; user_id: number; status: string; pay_amount: number }>(
        'SELECT id, user_id::int, status, pay_amount::int FROM orders',
      )
    ).rows;
    expect(new Map(orders.map((o) => [o.id, o.status]))).toEqual(
      new Map(ordered.map((b) => [b.orderId, b.paid ? 'PAID' : 'EXPIRED'])),
    );

    // Payments: one payment and one ledger debit per paid order, for its amount; balances add up.
    const payments = (
      await admin.query<{ id: string; order_id: string; amount: number }>(
        'SELECT id, order_id, amount::int FROM payments',
      )
    ).rows;
    expect(new Map(payments.map((p) => [p.order_id, [p.id, p.amount]]))).toEqual(
      new Map(paid.map((b) => [b.orderId, [b.paid!.paymentId, b.payAmount]])),
    );
    expect(payments).toHaveLength(paid.length);
    const debits = (
      await admin.query<{ payment_id: string; amount: number }>(
        `SELECT payment_id, amount::int FROM balance_ledger WHERE kind = 'PAYMENT'`,
      )
    ).rows;
    expect(debits).toHaveLength(paid.length);
    expect(new Set(debits.map((d) => d.payment_id))).toEqual(new Set(paid.map((b) => b.paid!.paymentId)));
    const balances = (
      await admin.query<{ id: number; balance: number }>('SELECT id::int, balance::int FROM users')
    ).rows;
    for (const b of buyers.filter((x) => x.issued)) {
      const balance = balances.find((u) => u.id === b.userId)!.balance;
      expect(balance).toBe(10_000 - (b.paid?.amount ?? 0));
    }

    // Exports: one outbox message per paid order; each is delivered or still waiting (a
    // delivery interrupted by a kill is retried: at least once, deduplicated by key).
    const outbox = (
      await admin.query<{ key: string; published: boolean }>(
        'SELECT key, published_at IS NOT NULL AS published FROM outbox',
      )
    ).rows;
    expect(outbox.map((o) => o.key).sort()).toEqual(paid.map((b) => b.orderId!).sort());
    const paidIds = new Set(paid.map((b) => b.orderId));
    for (const key of delivered) expect(paidIds.has(key)).toBe(true);
    const deliveredSet = new Set(delivered);
    for (const o of outbox.filter((x) => x.published)) expect(deliveredSet.has(o.key)).toBe(true);
    const waiting = outbox.filter((o) => !o.published && !deliveredSet.has(o.key));
    expect(deliveredSet.size + waiting.length).toBe(paid.length);

    // Stock: committed stock lost exactly the paid units; with every hold released (expired
    // orders) or committed (paid ones), Redis offers exactly what Postgres holds.
    const soldUnits = paid.length * 2;
    const product = (await admin.query('SELECT stock::int FROM products WHERE id = $1', [productId])).rows[0];
    expect(product.stock).toBe(stock - soldUnits);
    const sales = (await admin.query('SELECT coalesce(sum(quantity), 0)::int AS units FROM sales')).rows[0];
    expect(sales.units).toBe(soldUnits);
    await waitFor(
      'Redis stock to match Postgres',
      async () =>
        Number(await s.rt.redis.get(s.rt.keys.stock(productId).available)) === stock - soldUnits &&
        (await s.rt.redis.hlen(s.rt.keys.stock(productId).holds)) === 0,
      30_000,
    );
    expect((await reconcile(s.rt)).drifts).toEqual([]);

    console.log(
      'worker kills:',
      JSON.stringify({
        interrupted,
        buyers: buyers.length,
        issued: issued.length,
        orders: ordered.length,
        paid: paid.length,
        expired: unpaid.length,
        deliveredExports: deliveredSet.size,
        duplicateDeliveries: delivered.length - deliveredSet.size,
        exportsStillWaiting: waiting.length,
      }),
    );
  });
});
