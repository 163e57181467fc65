// REDIS_WAIT_REPLICAS on one Redis: a private primary with a private replica (WAIT succeeds),
// and a private primary without one (WAIT times out). The shared 6379 is never given a replica.
import { drainCouponPending, revokeUnreplicatedIssuance } from '@flash/core';
import { insertIssuedBatch, listIssuedUsers } from '@flash/core/internal/coupon/coupon.repository';
import { readPending, runIssueCoupon } from '@flash/core/internal/coupon/coupon.store';
import { createReplicaWaiter } from '@flash/core/internal/redis/replica-wait';
import { shippedScript } from '@flash/core/internal/redis/scripts';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type PrivateRedis, startPrivateRedis } from '../../../test/redis-server.ts';
import { call, createTestServer, type TestServer } from '../../../test/support.ts';

async function createCoupon(s: TestServer, totalQuantity: number): Promise<number> {
  const admin = await s.token(1, { admin: true });
  const res = await call(
    s.app,
    'mutation',
    'admin.coupon.create',
    { name: 'Flash', discount: { type: 'FIXED', value: 5_000 }, totalQuantity },
    admin,
  );
  return res.body.result.data.couponId;
}

const issue = async (s: TestServer, couponId: number, userId: number) =>
  call(s.app, 'mutation', 'coupon.issue', { couponId }, await s.token(userId));

describe('REDIS_WAIT_REPLICAS=1 with a replica', () => {
  let primary: PrivateRedis;
  let replica: PrivateRedis;
  let onReplica: Redis;
  let s: TestServer;
  beforeAll(async () => {
    primary = await startPrivateRedis();
    replica = await startPrivateRedis({ replicaOf: primary.port });
    onReplica = new Redis(replica.url);
    s = await createTestServer({ overrides: { REDIS_URL: primary.url, REDIS_WAIT_REPLICAS: '1' } });
  });
  afterAll(async () => {
    onReplica.disconnect();
    await s.cleanup();
    await replica.stop();
    await primary.stop();
  });

  it('answers ISSUED only once the replica holds the issuance: a crowd, each checked on the replica as it is answered', async () => {
    const couponId = await createCoupon(s, 300);
    const keys = s.rt.keys.coupon(couponId);
    const onReplicaAtAnswer: (string | null)[] = [];
    const answers = await Promise.all(
      Array.from({ length: 500 }, async (_, i) => {
        const res = await issue(s, couponId, 1_000 + i);
        if (res.status === 200) onReplicaAtAnswer.push(await onReplica.hget(keys.issued, String(1_000 + i)));
        return res.status;
      }),
    );
    expect(answers.filter((st) => st === 200)).toHaveLength(300);
    expect(answers.filter((st) => st !== 200 && st !== 409)).toEqual([]);
    expect(onReplicaAtAnswer).toHaveLength(300);
    expect(onReplicaAtAnswer.filter((v) => v === null)).toEqual([]);
    expect(await onReplica.hlen(keys.issued)).toBe(301);
  });

  const commandCalls = async (command: string): Promise<number> => {
    const stats = await s.rt.redis.info('commandstats');
    return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
  };

  it('one WAIT covers the calls that arrive together: a crowd of 400 costs far fewer than 400', async () => {
    const couponId = await createCoupon(s, 1_000);
    const before = await commandCalls('wait');
    const answers = await Promise.all(Array.from({ length: 400 }, (_, i) => issue(s, couponId, 20_000 + i)));
    expect(answers.filter((r) => r.status !== 200)).toEqual([]);
    const waits = (await commandCalls('wait')) - before;
    expect(waits).toBeGreaterThan(0);
    expect(waits).toBeLessThanOrEqual(200);
  });

  it('with REDIS_WAIT_REPLICAS=0 an issuance is the one EVALSHA it always was: no WAIT', async () => {
    // A Redis of its own, watched with MONITOR: the commands counted are this server's issue
    // script and WAITs alone (BullMQ's job adds, also EVALSHA, are told apart by their digest).
    const own = await startPrivateRedis();
    const plain = await createTestServer({ overrides: { REDIS_URL: own.url } });
    const watcher = new Redis(own.url);
    try {
      const couponId = await createCoupon(plain, 100);
      await issue(plain, couponId, 1); // loads the script on this connection's first use
      const seen = { issueScripts: 0, waits: 0, marker: false };
      const issueSha = shippedScript('issueCoupon').sha;
      const monitor = await watcher.monitor();
      monitor.on('monitor', (_time: string, args: string[]) => {
        const command = args[0]?.toLowerCase();
        if (command === 'evalsha' && args[1] === issueSha) seen.issueScripts++;
        if (command === 'wait') seen.waits++;
        if (command === 'echo' && args[1] === 'end-of-crowd') seen.marker = true;
      });
      const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => issue(plain, couponId, 2 + i)));
      expect(answers.filter((r) => r.status !== 200)).toEqual([]);
      // MONITOR reports commands in the order Redis ran them: once the marker is seen, so is the crowd.
      await plain.rt.redis.echo('end-of-crowd');
      await vi.waitFor(() => expect(seen.marker).toBe(true));
      expect(seen.waits).toBe(0);
      expect(seen.issueScripts).toBe(50);
      monitor.disconnect();
    } finally {
      watcher.disconnect();
      await plain.cleanup();
      await own.stop();
    }
  });
});

describe('REDIS_WAIT_REPLICAS=1 without a replica (every WAIT times out)', () => {
  let primary: PrivateRedis;
  let s: TestServer;
  beforeAll(async () => {
    primary = await startPrivateRedis();
    s = await createTestServer({
      overrides: { REDIS_URL: primary.url, REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '50' },
    });
  });
  afterAll(async () => {
    await s.cleanup();
    await primary.stop();
  });

  it('answers UNAVAILABLE (503, never 500) and takes the issuance back; once a replica exists the retry gets the one coupon', async () => {
    const couponId = await createCoupon(s, 10);
    const keys = s.rt.keys.coupon(couponId);
    const res = await issue(s, couponId, 7);
    expect(res.status).toBe(503);
    expect(res.body.error.data).toMatchObject({ appCode: 'UNAVAILABLE' });
    expect(await s.rt.redis.hget(keys.issued, '7')).toBeNull();
    expect(await s.rt.redis.exists(keys.pending)).toBe(0);

    // Retried while the replica is still missing: the same answer, still nothing kept.
    expect((await issue(s, couponId, 7)).status).toBe(503);
    expect(await s.rt.redis.hlen(keys.issued)).toBe(1);

    const replica = await startPrivateRedis({ replicaOf: primary.port });
    try {
      expect((await issue(s, couponId, 7)).status).toBe(200);
      expect((await issue(s, couponId, 7)).body.error.data.appCode).toBe('COUPON_ALREADY_ISSUED');
      await drainCouponPending(s.rt, couponId);
      expect((await listIssuedUsers(s.rt.db, couponId)).map((r) => r.userId)).toEqual([7]);
    } finally {
      await replica.stop();
    }
  });

  it('a crowd against a coupon of 5: all answered UNAVAILABLE, all taken back, the quantity intact', async () => {
    const couponId = await createCoupon(s, 5);
    const keys = s.rt.keys.coupon(couponId);
    const statuses = await Promise.all(Array.from({ length: 200 }, (_, i) => issue(s, couponId, 100 + i)));
    // Those that lost the race for the 5 places see SOLD_OUT (409) at once; the rest 503.
    expect(statuses.filter((r) => r.status !== 503 && r.status !== 409)).toEqual([]);
    expect(statuses.filter((r) => r.status === 503).length).toBeGreaterThanOrEqual(5);
    expect(await s.rt.redis.hlen(keys.issued)).toBe(1);
    expect(await s.rt.redis.exists(keys.pending)).toBe(0);
  });

  it('keeps an unreplicated issuance that Postgres already has (a batch persisted it before the revocation)', async () => {
    const couponId = await createCoupon(s, 10);
    const keys = s.rt.keys.coupon(couponId);
    const nowMs = Date.now();
    const wait = createReplicaWaiter(s.rt.redis, { replicas: 1, timeoutMs: 20 });
    const reply = await runIssueCoupon(s.rt.redis, keys, { userId: 9, nowMs, wait });
    if (reply.code !== 'UNREPLICATED') throw new Error(`expected UNREPLICATED, got ${reply.code}`);
    // Inserted but not yet acknowledged: the moment between a batch's COMMIT and its XDEL.
    await insertIssuedBatch(s.rt.db, { couponId, validDays: null, userIds: [9], issuedAtMs: [nowMs] });
    const issuance = { userId: 9, issuedAtMs: nowMs, pendingId: reply.pendingId };
    expect(await revokeUnreplicatedIssuance(s.rt, couponId, issuance)).toBe('kept');
    expect(await s.rt.redis.hget(keys.issued, '9')).toBe(String(nowMs));
    expect(await readPending(s.rt.redis, keys, 10)).toHaveLength(1);
    expect((await issue(s, couponId, 9)).body.error.data.appCode).toBe('COUPON_ALREADY_ISSUED');
  });

  it('revocations racing persistence batches: Redis and Postgres end holding exactly the same users', async () => {
    const couponId = await createCoupon(s, 1_000);
    const keys = s.rt.keys.coupon(couponId);
    const nowMs = Date.now();
    const wait = createReplicaWaiter(s.rt.redis, { replicas: 1, timeoutMs: 10 });
    const users = Array.from({ length: 400 }, (_, i) => 5_000 + i);
    const issuances = await Promise.all(
      users.map(async (userId) => {
        const reply = await runIssueCoupon(s.rt.redis, keys, { userId, nowMs, wait });
        if (reply.code !== 'UNREPLICATED') throw new Error(`expected UNREPLICATED, got ${reply.code}`);
        return { userId, issuedAtMs: nowMs, pendingId: reply.pendingId };
      }),
    );
    // Small batches, so that many commit while revocations run.
    const drains = Promise.all(
      Array.from({ length: 4 }, () => drainCouponPending(s.rt, couponId, { batchSize: 7 })),
    );
    // Sixteen revocations at a time, under the pool's 20 connections: 400 at once waited for a
    // connection past the pool's 2 s limit on a loaded machine, which tested the pool, not the race.
    const outcomes: Awaited<ReturnType<typeof revokeUnreplicatedIssuance>>[] = [];
    const queue = issuances.map((i, at) => ({ i, at }));
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let next = queue.shift(); next; next = queue.shift()) {
          outcomes[next.at] = await revokeUnreplicatedIssuance(s.rt, couponId, next.i);
        }
      }),
    );
    await drains;
    await drainCouponPending(s.rt, couponId);

    const inPostgres = (await listIssuedUsers(s.rt.db, couponId)).map((r) => r.userId).sort();
    const inRedis = Object.keys(await s.rt.redis.hgetall(keys.issued))
      .filter((f) => f !== '_')
      .map(Number)
      .sort();
    const kept = users.filter((_, i) => outcomes[i] === 'kept').sort();
    expect(inRedis).toEqual(inPostgres);
    expect(inPostgres).toEqual(kept);
    expect(await s.rt.redis.exists(keys.pending)).toBe(0);
  });
});
