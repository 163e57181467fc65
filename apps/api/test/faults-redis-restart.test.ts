import {
  createCoupon,
  createOrder,
  createProduct,
  drainCouponPending,
  issueCoupon,
  rebuildInventory,
  reconcile,
  saveUnsavedOrders,
  signToken,
} from '@flash/core';
import { couponMeta } from '@flash/core/internal/coupon/coupon.model';
import {
  findCouponRow,
  listIssuedUsers,
  lockCouponForRestore,
} from '@flash/core/internal/coupon/coupon.repository';
import { runRestoreCoupon } from '@flash/core/internal/coupon/coupon.store';
import { findOrderStatuses } from '@flash/core/internal/order/order.repository';
import { readUnsavedOrders } from '@flash/core/internal/order/order.store';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Child, httpCall } from '../../../test/processes.ts';
import { type PrivateRedis, startPrivateRedis } from '../../../test/redis-server.ts';
import { createTestRuntime, type TestRuntime } from '../../../test/support.ts';
import {
  type Answer,
  runBin,
  runCrowd,
  seedSale,
  startPrivateStack,
  stopPrivateStack,
  tryCall,
  waitFor,
} from './faults-helpers.ts';

/**
 * Redis restarted EMPTY (no AOF, no RDB) in the middle of a sale, under a real API and worker
 * pointed at a private redis-server. Redis is where the sale is decided, so while its state is
 * missing the hot paths must fail closed (503 UNAVAILABLE) or succeed only after rebuilding from
 * Postgres; then the rebuild commands restore coupons, stock holds and the ranking, and the
 * sale continues to exactly its limits.
 *
 * What a Redis without persistence cannot keep: issuances it answered and the worker had not
 * yet moved to Postgres vanish with it. The test accounts for them explicitly (answered before
 * the restart, not persisted); every issuance asked for after the restart is persisted.
 * Orders, payments and idempotency keys live in Postgres and lose nothing.
 */
describe('fault: Redis restarted empty mid-sale', () => {
  let redis: PrivateRedis;
  let env: TestRuntime;
  let api: Child & { url: string };
  let worker: Child;
  beforeAll(async () => {
    ({ redis, env, api, worker } = await startPrivateStack());
  });
  afterAll(() => stopPrivateStack({ redis, env, api, worker }));

  it('fails closed, rebuilds from Postgres, and sells exactly the quantity and the stock', async () => {
    const secret = env.config.jwtSecret;
    const admin = await signToken(secret, 1, { admin: true });
    const quantity = 300;
    const stock = 200;
    const { couponId, productId } = await seedSale(api.url, admin, { name: 'restart', quantity, stock });

    type Buyer = {
      userId: number;
      token: string;
      issueSentAt?: number;
      issue?: Answer;
      order?: Answer;
      orderInput?: unknown;
      pay?: Answer;
    };
    const buyers: Buyer[] = [];
    const answers: Answer[] = [];
    const send = async (kind: 'query' | 'mutation', procedure: string, input: unknown, token?: string) => {
      const answer = await tryCall(() => httpCall(api.url, kind, procedure, input, token));
      answers.push(answer);
      return answer;
    };
    /** One buyer: charge, take the coupon, order one unit, pay every other order. */
    const buy = async (userId: number) => {
      const b: Buyer = { userId, token: await signToken(secret, userId) };
      buyers.push(b);
      await send('mutation', 'balance.charge', { amount: 5_000 }, b.token);
      b.issueSentAt = Date.now();
      b.issue = await send('mutation', 'coupon.issue', { couponId }, b.token);
      b.orderInput = { items: [{ productId, quantity: 1 }], idempotencyKey: `order-${userId}` };
      b.order = await send('mutation', 'order.create', b.orderInput, b.token);
      if (b.order?.status === 200 && userId % 2 === 0) {
        b.pay = await send('mutation', 'payment.pay', { orderId: b.order.body.result.data.orderId }, b.token);
      }
    };
    const ok = (a: Answer) => a?.status === 200;

    // ---- phase 1: the sale runs; Redis is restarted empty in the middle of it
    let next = 1_000;
    let stop = false;
    const lanes = Array.from({ length: 8 }, async () => {
      while (!stop) await buy(next++);
    });
    await waitFor('the sale to get going', () => buyers.filter((b) => ok(b.issue)).length >= 60);
    await redis.restartEmpty();
    const restartedAt = Date.now();
    // Keep selling until the rebuilt state has served a good number of buyers.
    await waitFor(
      'the sale to continue after the restart',
      () => buyers.filter((b) => b.issueSentAt! > restartedAt && ok(b.issue) && ok(b.order)).length >= 40,
    );
    stop = true;
    await Promise.all(lanes);

    // Fail closed: every answer is a success, the sale's own refusal, or UNAVAILABLE; never an error.
    const kinds = new Set(
      answers.map((a) =>
        a === undefined || a === null ? 'no answer' : `${a.status} ${a.body.error?.data?.appCode ?? ''}`,
      ),
    );
    for (const kind of kinds) {
      expect([
        '200 ',
        '503 UNAVAILABLE',
        '409 COUPON_SOLD_OUT',
        '409 OUT_OF_STOCK',
        '409 INSUFFICIENT_BALANCE',
      ]).toContain(kind);
    }
    // The outage was seen (503s) and healed by the processes themselves (successes after it).
    expect(kinds).toContain('503 UNAVAILABLE');

    // Issuances: everything asked for after the restart and answered is persisted; what the old
    // Redis answered but had not handed to Postgres is the accepted loss, counted here.
    await waitFor('the worker to drain', pendingDrained);
    // Nothing was oversold or over-issued through the restart (warnings, such as a hold an order
    // took in the old Redis just before it died, are what the rebuild below and the sweeps fix).
    expect((await reconcile(env.rt)).drifts.filter((d) => d.severity === 'critical')).toEqual([]);
    const persisted = new Set((await listIssuedUsers(env.rt.db, couponId)).map((r) => r.userId));
    const issuedOk = buyers.filter((b) => ok(b.issue));
    const lost = issuedOk.filter((b) => !persisted.has(b.userId));
    for (const b of lost) expect(b.issueSentAt!).toBeLessThan(restartedAt);
    for (const b of buyers.filter((x) => x.issue && !ok(x.issue)))
      expect(persisted.has(b.userId)).toBe(false);
    expect(persisted.size).toBeLessThanOrEqual(quantity);

    // Orders and payments live in Postgres: every answered one is there.
    const ordered = buyers.filter((b) => ok(b.order));
    const rows = await env.rt.db.selectFrom('orders').select(['id', 'user_id', 'status']).execute();
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const b of ordered) {
      expect(byId.get(b.order!.body.result.data.orderId)).toMatchObject({
        user_id: b.userId,
        status: ok(b.pay) ? 'PAID' : 'PENDING_PAYMENT',
      });
    }
    // Idempotency keys survived the restart (they are in Postgres): the replay of an order
    // answered before it returns that order, and takes no stock again.
    const early = ordered.find((b) => b.issueSentAt! < restartedAt)!;
    const stockBefore = (await httpCall(api.url, 'query', 'product.get', { productId })).body.result.data
      .stock;
    const replay = await httpCall(api.url, 'mutation', 'order.create', early.orderInput, early.token);
    expect(replay.body.result.data.orderId).toBe(early.order!.body.result.data.orderId);
    expect((await httpCall(api.url, 'query', 'product.get', { productId })).body.result.data.stock).toBe(
      stockBefore,
    );

    // ---- phase 2: restarted empty again, the rebuild commands restore everything before traffic
    await redis.restartEmpty();
    const coupons = await runBin('coupons-rebuild.ts', env.childEnv);
    expect(coupons).toContain(`coupon ${couponId}: restored, ${persisted.size} issued`);
    const inventory = await runBin('inventory-rebuild.ts', env.childEnv);
    const pendingOrders = rows.filter((r) => r.status === 'PENDING_PAYMENT').length;
    expect(inventory).toContain(`inventory: loaded 1 products and ${pendingOrders} holds of unpaid orders`);
    expect(await runBin('ranking-rebuild.ts', env.childEnv)).toContain('ranking: loaded');
    // Redis now matches Postgres exactly: issued count, available stock, holds.
    expect((await reconcile(env.rt)).drifts).toEqual([]);
    const soldUnits = await unitsSold();
    const top = (await httpCall(api.url, 'query', 'product.top')).body.result.data.items;
    expect(top).toEqual([{ productId, name: 'restart', price: 1_000, soldQuantity: soldUnits }]);

    // ---- phase 3: the sale goes on to its exact limits
    await runCrowd(
      Array.from({ length: 450 }, (_, i) => () => buy(50_000 + i)),
      20,
    );
    await waitFor('the worker to drain', pendingDrained);
    const final = await listIssuedUsers(env.rt.db, couponId);
    expect(final).toHaveLength(quantity);
    expect(await env.rt.redis.hlen(env.rt.keys.coupon(couponId).issued)).toBe(quantity + 1); // + loaded marker
    const open = await env.rt.db
      .selectFrom('orders')
      .innerJoin('order_lines', 'order_lines.order_id', 'orders.id')
      .select((eb) => eb.fn.sum<number>('order_lines.quantity').as('units'))
      .where('orders.status', 'in', ['PENDING_PAYMENT', 'PAID'])
      .executeTakeFirstOrThrow();
    expect(Number(open.units)).toBe(stock);
    expect((await httpCall(api.url, 'query', 'product.get', { productId })).body.result.data.stock).toBe(0);
    const finalTop = (await httpCall(api.url, 'query', 'product.top')).body.result.data.items;
    expect(finalTop).toEqual([{ productId, name: 'restart', price: 1_000, soldQuantity: await unitsSold() }]);
    expect((await reconcile(env.rt)).drifts).toEqual([]);

    console.log(
      'redis restart:',
      JSON.stringify({
        buyers: buyers.length,
        unavailableAnswers: answers.filter((a) => a?.status === 503).length,
        issuedBeforeRestartLost: lost.length,
        persistedAfterPhase1: persisted.size,
      }),
    );

    async function pendingDrained(): Promise<boolean> {
      return (await env.rt.redis.exists(env.rt.keys.coupon(couponId).pending)) === 0;
    }
    async function unitsSold(): Promise<number> {
      const row = await env.rt.db
        .selectFrom('sales')
        .select((eb) => eb.fn.sum<number>('quantity').as('units'))
        .executeTakeFirstOrThrow();
      return Number(row.units ?? 0);
    }
  });
});

// The narrow race behind "never more than the quantity" when Redis loses its data: a
// persistence batch that read its entries from the old Redis must not land in Postgres after
// the restore counted Postgres without them (Redis would then issue those places again).
describe('fault: Redis lost its data while a persistence batch was in flight', () => {
  let redis: PrivateRedis;
  let env: TestRuntime;
  beforeAll(async () => {
    redis = await startPrivateRedis();
    env = await createTestRuntime({ overrides: { REDIS_URL: redis.url } });
  });
  afterAll(async () => {
    await env.cleanup();
    await redis.stop();
  });

  it('the batch waits for the restore and persists only what the new Redis still has: no over-issue', async () => {
    const { rt } = env;
    const quantity = 10;
    const { couponId } = await createCoupon(rt, {
      name: 'race',
      discount: { type: 'FIXED', value: 100 },
      totalQuantity: quantity,
      issueStartsAt: null,
      issueEndsAt: null,
      validDays: null,
    });
    for (let userId = 1; userId <= quantity; userId++) await issueCoupon(rt, userId, couponId);

    // A restore has the coupon's exclusive lock (as restoreCoupon takes it) ...
    let letRestoreGo!: () => void;
    const restoreMayGo = new Promise<void>((r) => {
      letRestoreGo = r;
    });
    let restoreLocked!: () => void;
    const locked = new Promise<void>((r) => {
      restoreLocked = r;
    });
    const restore = rt.db.transaction().execute(async (trx) => {
      await lockCouponForRestore(trx, couponId);
      restoreLocked();
      await restoreMayGo;
      const coupon = await findCouponRow(trx, couponId);
      return runRestoreCoupon(
        rt.redis,
        rt.keys.coupon(couponId),
        couponMeta(coupon!),
        await listIssuedUsers(trx, couponId),
      );
    });
    await locked;
    // ... when a persistence batch starts and queues up behind it ...
    const drain = drainCouponPending(rt, couponId);
    const observer = new pg.Client({ connectionString: env.config.databaseUrl });
    await observer.connect();
    await waitFor('the batch to wait for the lock', async () => {
      const { rows } = await observer.query(`SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock'
          AND query LIKE '%advisory_xact_lock_shared%'`);
      return rows[0].n === 1;
    });
    await observer.end();
    // ... and Redis comes back empty: the restore counts what Postgres holds (nothing yet).
    await redis.restartEmpty();
    await waitFor('the runtime to reconnect', async () => (await rt.redis.ping()) === 'PONG');
    letRestoreGo();
    expect(await restore).toEqual({ restored: true, issuedCount: 0 });
    await drain;

    // The old issuances are the accepted loss of a Redis without persistence; the places they
    // took are issued again, and Postgres ends with exactly the quantity, not more.
    for (let userId = 100; userId < 100 + 2 * quantity; userId++) {
      await issueCoupon(rt, userId, couponId).catch(() => {});
    }
    await drainCouponPending(rt, couponId);
    expect(await listIssuedUsers(rt.db, couponId)).toHaveLength(quantity);
    // (This runtime never loaded an inventory; only the coupon is compared.)
    expect((await reconcile(rt)).drifts.filter((d) => d.kind.startsWith('coupon'))).toEqual([]);
  });
});

// The same race on the stock side: an order whose hold was taken in the Redis that then lost
// its data, and whose Postgres insert commits only after the inventory rebuild read Postgres,
// would hold no stock in the rebuilt Redis, and its units would be sold a second time. Two
// kinds of order insert after their hold: one saved before it is answered (an idempotency key
// or a coupon), and one answered from Redis and saved moments later (order.persist.ts).
describe('fault: Redis lost its data while an order was between its hold and its commit', () => {
  let redis: PrivateRedis;
  let env: TestRuntime;
  let admin: pg.Client;
  beforeAll(async () => {
    redis = await startPrivateRedis();
    env = await createTestRuntime({ overrides: { REDIS_URL: redis.url } });
    admin = new pg.Client({ connectionString: env.config.databaseUrl });
    await admin.connect();
  });
  afterAll(async () => {
    await admin.end();
    await env.cleanup();
    await redis.stop();
  });

  /** Holds up for 1.5 s every order insert of this user (a trigger); resolves with its removal. */
  async function stallOrderInserts(name: string, userId: number): Promise<() => Promise<void>> {
    await admin.query(`CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.user_id = ${userId} THEN PERFORM pg_sleep(1.5); END IF; RETURN NEW; END $$`);
    await admin.query(
      `CREATE TRIGGER ${name} BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION ${name}()`,
    );
    return async () => {
      await admin.query(`DROP TRIGGER ${name} ON orders; DROP FUNCTION ${name}()`);
    };
  }

  /** An insert is inside the stall (one backend of this database in pg_sleep). */
  async function insertStalled(): Promise<boolean> {
    const { rows } = await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND wait_event = 'PgSleep'`);
    return rows[0].n === 1;
  }

  it('the rebuild waits for the order, counts its hold, and the last unit is sold once', async () => {
    const { rt } = env;
    const product = await createProduct(rt, { name: 'last one', price: 1_000, stock: 1 });
    // Order A (user 1) is held up between its Redis hold and its commit.
    const release = await stallOrderInserts('hold_order', 1);
    // With a key: saved in Postgres before it is answered.
    const orderA = createOrder(rt, 1, {
      items: [{ productId: product.id, quantity: 1 }],
      idempotencyKey: 'a',
    });
    await waitFor('order A to hold the unit and reach its insert', insertStalled);

    // Redis comes back empty; the rebuild (as the next order or `pnpm inventory:rebuild` runs it).
    await redis.restartEmpty();
    await waitFor('the runtime to reconnect', async () => (await rt.redis.ping()) === 'PONG');
    const rebuilt = rebuildInventory(rt);
    const a = await orderA;
    await rebuilt;
    expect(a.status).toBe('PENDING_PAYMENT');

    // The unit is A's: order B is refused, and Redis agrees with Postgres.
    await expect(
      createOrder(rt, 2, { items: [{ productId: product.id, quantity: 1 }] }),
    ).rejects.toMatchObject({
      code: 'OUT_OF_STOCK',
    });
    expect((await reconcile(rt)).drifts).toEqual([]);
    await release();
  });

  it('an order answered from Redis: its save runs under the lock the rebuild waits for, and the last unit is sold once', async () => {
    const { rt } = env;
    const product = await createProduct(rt, { name: 'last one, unsaved', price: 1_000, stock: 1 });
    // Order A (user 3) is answered from Redis; its save is then held up inside its insert.
    const a = await createOrder(rt, 3, { items: [{ productId: product.id, quantity: 1 }] });
    expect(await readUnsavedOrders(rt.redis, rt.keys, product.id, [a.orderId])).not.toEqual([null]);
    const release = await stallOrderInserts('hold_save', 3);
    try {
      const save = saveUnsavedOrders(rt, [{ productId: product.id, orderIds: [a.orderId] }]);
      await waitFor('the save of order A to reach its insert', insertStalled);

      // Redis comes back empty (A's record and hold with it) while A's insert is under way.
      await redis.restartEmpty();
      await waitFor('the runtime to reconnect', async () => (await rt.redis.ping()) === 'PONG');
      const rebuilt = rebuildInventory(rt);
      expect(await save).toBe(1);
      await rebuilt;
    } finally {
      await release();
    }

    // A is saved, and the rebuild counted it: order B is refused, Redis agrees with Postgres.
    expect(await findOrderStatuses(rt.db, [a.orderId])).toEqual(new Map([[a.orderId, 'PENDING_PAYMENT']]));
    await expect(
      createOrder(rt, 4, { items: [{ productId: product.id, quantity: 1 }] }),
    ).rejects.toMatchObject({ code: 'OUT_OF_STOCK' });
    expect((await reconcile(rt)).drifts).toEqual([]);
  });
});
