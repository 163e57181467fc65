// Every Lua script, run through the function the service calls it with, so with the keys the
// service gives it. On one Redis this checks each call works; under `pnpm test:cluster` it is
// the check the brief asks for: a script whose keys span hash slots fails there with CROSSSLOT
// (and one that reaches a key it was not given fails on the node that lacks it).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRuntime, type TestRuntime } from '../../../test/support.ts';
import {
  ackPending,
  readPending,
  runIssueCoupon,
  runRestoreCoupon,
  runRevokeIssuance,
} from '../src/coupon/coupon.store.ts';
import { endHold, endHolds, forgetIfIdle, holdOrder } from '../src/order/order.store.ts';
import { addRestocked, loadStockSnapshot, readAvailable } from '../src/product/inventory.store.ts';
import { addSales, hourIndex, loadBuckets, mergeTop, windowHours } from '../src/ranking/ranking.store.ts';
import { consumeRateLimits } from '../src/rate-limit/rate-limit.store.ts';
import { Cluster } from '../src/redis/cluster.ts';
import { createReplicaWaiter } from '../src/redis/replica-wait.ts';
import { readScripts } from '../src/redis/scripts.ts';
import {
  readRoom,
  runJoinWaitingRoom,
  runLoadWaitingRoom,
  runUpdateWaitingRoom,
  runWaitingRoomStatus,
} from '../src/waiting-room/waiting-room.store.ts';

const onCluster = Boolean(process.env.REDIS_CLUSTER_NODES);
const NOW = new Date('2026-12-06T10:00:00.000Z');

describe('every Lua script with the keys the service passes it', () => {
  let env: TestRuntime;
  beforeAll(async () => {
    env = await createTestRuntime();
  });
  afterAll(() => env.cleanup());
  const rt = () => env.rt;

  it(`runs on ${onCluster ? 'the Redis Cluster of REDIS_CLUSTER_NODES' : 'one Redis'}`, () => {
    // Guards the cluster run itself: were the variable ignored, every case below would pass on 6379.
    expect(rt().redis instanceof Cluster).toBe(onCluster);
  });

  /**
   * One case per script in scripts/lua, in the order a sale uses them; each asserts the reply
   * that proves the script ran (not merely that Redis answered).
   */
  const cases: Record<string, () => Promise<void>> = {
    restoreCoupon: async () => {
      const meta = { total: 5, startsAtMs: 0, endsAtMs: 0, validDays: 0, expireAtMs: 0 };
      expect(await runRestoreCoupon(rt().redis, rt().keys.coupon(1), meta, [])).toEqual({
        restored: true,
        issuedCount: 0,
      });
    },
    issueCoupon: async () => {
      const limit = { intervalMicros: 1_000, burst: 5 };
      const reply = await runIssueCoupon(rt().redis, rt().keys.coupon(1), {
        userId: 7,
        nowMs: NOW.getTime(),
        limits: { user: { subject: 'u:7', ...limit }, ip: { subject: 'ip:10.0.0.1', ...limit } },
      });
      expect(reply.code).toBe('OK');
    },
    couponAckPending: async () => {
      const pending = await readPending(rt().redis, rt().keys.coupon(1), 10);
      expect(pending.map((p) => p.userId)).toEqual([7]);
      expect(await ackPending(rt().redis, rt().keys.coupon(1), [pending[0]!.id])).toBe(1);
    },
    revokeIssuance: async () => {
      // Waiting for more replicas than any master here has (none on one Redis, one per master on
      // the test cluster): the issue script and WAIT run in one pipeline on the slot's master,
      // WAIT times out, and the issuance is handed back to be taken back.
      const nowMs = NOW.getTime();
      const keys = rt().keys.coupon(1);
      const reply = await runIssueCoupon(rt().redis, keys, {
        userId: 8,
        nowMs,
        wait: createReplicaWaiter(rt().redis, { replicas: 2, timeoutMs: 10 }),
      });
      if (reply.code !== 'UNREPLICATED') throw new Error(`expected UNREPLICATED, got ${reply.code}`);
      expect(
        await runRevokeIssuance(rt().redis, keys, {
          userId: 8,
          issuedAtMs: nowMs,
          pendingId: reply.pendingId,
        }),
      ).toBe(true);
      expect(await rt().redis.hget(keys.issued, '8')).toBeNull();
    },
    rateLimit: async () => {
      const limit = { perSecond: 10, burst: 2 };
      const checks = {
        user: { key: rt().keys.rateLimit('balance.charge', 'u:7'), limit },
        ip: { key: rt().keys.rateLimit('balance.charge', 'ip:10.0.0.1'), limit },
      };
      expect(await consumeRateLimits(rt().redis, checks, NOW.getTime())).toEqual({ code: 'OK' });
    },
    loadStock: async () => {
      // Each product is its own slot (ADR 0200): one load per product.
      for (const [productId, available] of [
        [1, 10],
        [2, 4],
      ] as const) {
        const snapshot = { available, holds: new Map() };
        expect(await loadStockSnapshot(rt().redis, rt().keys, productId, snapshot)).toBe(true);
      }
    },
    restock: async () => {
      expect(await addRestocked(rt().redis, rt().keys, 1, 5)).toBe(15);
    },
    holdStock: async () => {
      const reply = await holdOrder(rt().redis, rt().keys, {
        listedAt: rt().orderState.listedAt,
        orderId: 'order-lua-cluster',
        nowMs: NOW.getTime(),
        lines: [{ productId: 1, quantity: 3 }],
        record: { userId: 7, json: JSON.stringify({ u: 7, l: [[1, 3, 1_000]] }) },
        limits: {
          user: { subject: 'u:7', intervalMicros: 1_000, burst: 5 },
          ip: { subject: 'ip:10.0.0.1', intervalMicros: 1_000, burst: 5 },
        },
      });
      expect(reply.code).toBe('OK');
      // An order of two products: one script per line, each in its product's slot.
      const lines = [
        { productId: 2, quantity: 1 },
        { productId: 1, quantity: 1 },
      ];
      expect(
        await holdOrder(rt().redis, rt().keys, {
          listedAt: rt().orderState.listedAt,
          orderId: 'order-lua-cluster-2',
          nowMs: NOW.getTime(),
          lines,
        }),
      ).toEqual({
        code: 'OK',
      });
      expect(await readAvailable(rt().redis, rt().keys, [1, 2])).toEqual([11, 3]);
    },
    releaseHold: async () => {
      expect((await endHold(rt().redis, rt().keys, 1, 'order-lua-cluster', 'release')).code).toBe('OK');
      expect(await endHolds(rt().redis, rt().keys, 'order-lua-cluster-2', [1, 2], 'release')).toBe(2);
      expect(await readAvailable(rt().redis, rt().keys, [1, 2])).toEqual([15, 4]);
    },
    forgetIdleProduct: async () => {
      // Product 2 was listed by its hold; its slot is empty again: listed long ago, it goes.
      await rt().redis.zadd(rt().keys.activeProducts, Date.now() - 120_000, '2');
      expect(await forgetIfIdle(rt().redis, rt().keys, 2)).toBe(true);
    },
    rankingLoad: async () => {
      const hours = windowHours(NOW);
      expect(await loadBuckets(rt().redis, rt().keys, hours, new Map(), NOW)).toBe(true);
    },
    rankingRecord: async () => {
      const units = new Map([
        [1, 3],
        [2, 1],
      ]);
      expect(await addSales(rt().redis, rt().keys, hourIndex(NOW), 3_600, units)).toBe('counted');
    },
    rankingTop: async () => {
      const top = await mergeTop(rt().redis, rt().keys, { now: NOW, ttlMs: 1_000, limit: 5 });
      expect(top).not.toBe('not-loaded');
      expect(top === 'not-loaded' ? [] : top.items).toEqual([
        [1, 3],
        [2, 1],
      ]);
    },
    loadWaitingRoom: async () => {
      const room = {
        name: 'Sale',
        couponIds: [1],
        productIds: [2],
        admitPerSecond: 1,
        paused: false,
        opensAtMs: 0,
        passTtlSeconds: 600,
      };
      expect(await runLoadWaitingRoom(rt().redis, rt().keys.waitingRoom(1), room, NOW.getTime())).toBe(true);
    },
    joinWaitingRoom: async () => {
      const limit = { intervalMicros: 1_000, burst: 5 };
      const reply = await runJoinWaitingRoom(rt().redis, rt().keys.waitingRoom(1), {
        userId: 7,
        nowMs: NOW.getTime() + 500,
        limits: { user: { subject: 'u:7', ...limit }, ip: { subject: 'ip:10.0.0.1', ...limit } },
      });
      expect(reply).toMatchObject({ code: 'OK', ticket: 1, fresh: true });
    },
    waitingRoomStatus: async () => {
      const state = await runWaitingRoomStatus(rt().redis, rt().keys.waitingRoom(1), {
        userId: 7,
        nowMs: NOW.getTime() + 1_000,
      });
      expect(state).toMatchObject({ ticket: 1, passExpiresAtMs: NOW.getTime() + 1_000 + 600_000 });
    },
    updateWaitingRoom: async () => {
      const keys = rt().keys.waitingRoom(1);
      expect(
        await runUpdateWaitingRoom(rt().redis, keys, { nowMs: NOW.getTime() + 2_000, paused: true }),
      ).toBe(true);
      expect((await readRoom(rt().redis, keys))?.state.paused).toBe(true);
    },
  };

  it('has a case for every script in scripts/lua (a new script needs one here)', () => {
    expect(Object.keys(cases).sort()).toEqual(
      readScripts()
        .map((s) => s.name)
        .sort(),
    );
  });

  for (const [name, run] of Object.entries(cases)) {
    it(name, run);
  }

  // The control: proves a cluster refuses what these cases would catch, so their passing means
  // something. On one Redis there are no slots to span.
  it.runIf(onCluster)(
    'a script given keys of two slots is refused with CROSSSLOT (the control)',
    async () => {
      const keys = [rt().keys.coupon(1).pending, rt().keys.coupon(2).pending];
      await expect(
        rt().redis.eval("return redis.call('EXISTS', KEYS[1], KEYS[2])", 2, ...keys),
      ).rejects.toThrow(/CROSSSLOT/);
    },
  );
});
