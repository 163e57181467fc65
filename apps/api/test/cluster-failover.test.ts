// Failover (issue 25): a master of a Redis Cluster is SIGKILLed in the middle of a flash crowd
// of coupon.issue calls; its replica takes over. Runs only on a cluster (`pnpm test:cluster`),
// and kills a master of a private 6-node cluster it starts itself (scripts/redis-cluster.sh on
// the shared test cluster's base port + 50: inside the block of 100 ports a helper or CI job
// is given for its cluster), never the shared one.
//
// Measured, per run: how many issuances answered ISSUED are missing after the failover (lost).
// With the replica cut off before the kill, REDIS_WAIT_REPLICAS=0 must lose some (the control:
// it shows the setup does lose what the replica never saw) and REDIS_WAIT_REPLICAS=1 must lose
// none. With a plain kill and no lag, the loss is only printed: on loopback it may well be 0.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Cluster, drainCouponPending, loadConfig } from '@flash/core';
import { listIssuedUsers } from '@flash/core/internal/coupon/coupon.repository';
import { readPending } from '@flash/core/internal/coupon/coupon.store';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { call, createTestServer, type TestServer } from '../../../test/support.ts';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../../..');
const shared = loadConfig().redisClusterNodes;

/** Coupons of the crowd (all on the master that is killed) and their quantity: never sold out here. */
const COUPONS = 2;
const QUANTITY = 100_000;
/** Parallel callers, each issuing to a fresh user per call. */
const CALLERS = 40;
/** Successful issuances before the kill, and after it (proof the service recovered on its own). */
const BEFORE_KILL = 300;
const AFTER_RECOVERY = 200;
const CROWD_DEADLINE_MS = 30_000;
/** How far behind the replica is when its master is killed, in the runs that say so. */
const LAG_MS = 300;

type PrivateCluster = {
  nodes: string;
  dir: string;
  /** Brings a killed node back as a new replica of the master on `masterPort` (an operator's job). */
  rejoin(port: number, masterPort: number): Promise<void>;
  down(): Promise<void>;
};

async function startCluster(basePort: number): Promise<PrivateCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'flash-failover-'));
  const env = { ...process.env, REDIS_CLUSTER_BASE_PORT: String(basePort), REDIS_CLUSTER_DIR: dir };
  const script = path.join(root, 'scripts/redis-cluster.sh');
  const { stdout } = await run(script, ['up'], { env });
  return {
    nodes: stdout.trim().split('\n').pop()!,
    dir,
    rejoin: async (port, masterPort) =>
      void (await run(script, ['rejoin', String(port), String(masterPort)], { env })),
    down: async () => void (await run(script, ['down'], { env })),
  };
}

/** The port of the master serving `key`'s slot, as the node on `askPort` sees it. */
async function masterPortOf(askPort: number, key: string): Promise<number> {
  const node = new Redis({ host: '127.0.0.1', port: askPort });
  try {
    const slot = (await node.call('CLUSTER', 'KEYSLOT', key)) as number;
    const ranges = (await node.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
    const range = ranges.find(([from, to]) => slot >= from && slot <= to);
    if (!range) throw new Error(`no master serves slot ${slot}`);
    return Number(range[2][1]);
  } finally {
    node.disconnect();
  }
}

/** The port of the replica of the master on `masterPort`, as the replicas themselves say. */
async function replicaPortOf(basePort: number, masterPort: number): Promise<number> {
  for (let port = basePort; port < basePort + 6; port++) {
    if (port === masterPort) continue;
    const node = new Redis({ host: '127.0.0.1', port });
    try {
      if ((await node.info('replication')).includes(`master_port:${masterPort}\r\n`)) return port;
    } finally {
      node.disconnect();
    }
  }
  throw new Error(`no replica of ${masterPort}`);
}

type Answer = { userId: number; couponId: number; status: number; appCode?: string; afterKill: boolean };

type Outcome = {
  answers: Answer[];
  /** Answered ISSUED, and in neither Redis (after the failover) nor Postgres. */
  lost: Answer[];
  /** Answered ISSUED, missing from Redis after the failover but in Postgres (persisted before). */
  onlyInPostgres: Answer[];
};

/**
 * Starts a private cluster and the API on it, runs the crowd, kills the coupons' master once
 * BEFORE_KILL issuances were answered, keeps calling until AFTER_RECOVERY more succeed, retries
 * every caller answered UNAVAILABLE once, and checks the invariants that hold with or without
 * WAIT. `drain`: persist to Postgres during the crowd (the worker's job, here in-process).
 */
async function failover(
  basePort: number,
  options: {
    waitReplicas: number;
    drain: boolean;
    /**
     * Replication lag before the kill: the master's replica is cut off this long before the
     * master is killed, then resumed, so whatever the master answered meanwhile never reached
     * it. Without it, loopback replication is so fast that the kill may lose nothing, and
     * "nothing lost" would prove nothing about WAIT.
     */
    lagMs?: number;
  },
): Promise<Outcome & { s: TestServer; cluster: PrivateCluster; couponIds: number[] }> {
  const cluster = await startCluster(basePort);
  cleanups.push(() => cluster.down());
  const s = await createTestServer({
    overrides: { REDIS_CLUSTER_NODES: cluster.nodes, REDIS_WAIT_REPLICAS: String(options.waitReplicas) },
  });
  cleanups.unshift(() => s.cleanup());
  const admin = await s.token(1, { admin: true });

  // Coupons until COUPONS of them live on one master: the one to kill.
  const byMaster = new Map<number, number[]>();
  let victim: number | undefined;
  while (victim === undefined) {
    const created = await call(
      s.app,
      'mutation',
      'admin.coupon.create',
      { name: 'Flash', discount: { type: 'FIXED', value: 1_000 }, totalQuantity: QUANTITY },
      admin,
    );
    const couponId: number = created.body.result.data.couponId;
    const port = await masterPortOf(basePort, s.rt.keys.coupon(couponId).issued);
    const list = [...(byMaster.get(port) ?? []), couponId];
    byMaster.set(port, list);
    if (list.length === COUPONS) victim = port;
  }
  const couponIds = byMaster.get(victim)!;
  const pidOf = (port: number) =>
    Number(readFileSync(path.join(cluster.dir, String(port), 'redis.pid'), 'utf8'));
  const pid = pidOf(victim);
  const replicaPid = pidOf(await replicaPortOf(basePort, victim));

  const answers: Answer[] = [];
  let nextUser = 1_000;
  let killing = false;
  let killed = false;
  let okBefore = 0;
  let okAfter = 0;
  const deadline = Date.now() + CROWD_DEADLINE_MS;
  const issue = async (userId: number, couponId: number, afterKill: boolean): Promise<Answer> => {
    const res = await call(s.app, 'mutation', 'coupon.issue', { couponId }, await s.token(userId));
    return { userId, couponId, status: res.status, appCode: res.body.error?.data?.appCode, afterKill };
  };
  const caller = async () => {
    while (okAfter < AFTER_RECOVERY && Date.now() < deadline) {
      const userId = nextUser++;
      const answer = await issue(userId, couponIds[userId % COUPONS]!, killed);
      answers.push(answer);
      if (answer.status !== 200) continue;
      if (!answer.afterKill && ++okBefore >= BEFORE_KILL && !killing) {
        killing = true;
        void (async () => {
          if (options.lagMs) {
            // The replica stops and its link is cut, so it cannot reconnect and catch up: what
            // the master writes from now on reaches no replica (stopping it alone is not enough,
            // the kernel would still buffer the stream for it).
            process.kill(replicaPid, 'SIGSTOP');
            const master = new Redis({ host: '127.0.0.1', port: victim });
            await master.call('CLIENT', 'KILL', 'TYPE', 'replica').finally(() => master.disconnect());
            await new Promise((r) => setTimeout(r, options.lagMs));
          }
          killed = true;
          process.kill(pid, 'SIGKILL');
          if (options.lagMs) process.kill(replicaPid, 'SIGCONT');
        })();
      } else if (answer.afterKill) okAfter++;
    }
  };
  // Once the replica has taken over, the killed node comes back as the new master's replica
  // (empty, as a replaced node does): with REDIS_WAIT_REPLICAS=1 the shard can confirm writes
  // only from then on. The API is never touched.
  let promotedAfterMs: number | undefined;
  const supervisor = (async () => {
    while (!killed) await new Promise((r) => setTimeout(r, 20));
    const killedAt = Date.now();
    const live = victim === basePort ? basePort + 1 : basePort;
    while (Date.now() < deadline) {
      const master: number = await masterPortOf(live, s.rt.keys.coupon(couponIds[0]!).issued).catch(
        () => victim!,
      );
      if (master !== victim) {
        promotedAfterMs = Date.now() - killedAt;
        await cluster.rejoin(victim!, master);
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  let draining = options.drain;
  const drainer = (async () => {
    while (draining) {
      for (const couponId of couponIds) await drainCouponPending(s.rt, couponId).catch(() => {});
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  await Promise.all(Array.from({ length: CALLERS }, caller));
  draining = false;
  await drainer;
  await supervisor;
  report(`replica promoted ${promotedAfterMs} ms after the SIGKILL; killed node back as its replica then`);

  // Recovered on its own: calls succeeded again after the kill, with nothing done to the API.
  expect(killed).toBe(true);
  expect(promotedAfterMs).toBeDefined();
  expect(okAfter).toBeGreaterThanOrEqual(AFTER_RECOVERY);
  // Never a 500: a failover answers 503 UNAVAILABLE and nothing else but success.
  const odd = answers.filter((a) => a.status !== 200 && !(a.status === 503 && a.appCode === 'UNAVAILABLE'));
  expect(odd).toEqual([]);

  // A caller answered UNAVAILABLE retries once: exactly one coupon, or a clean answer.
  const retried = await Promise.all(
    answers.filter((a) => a.status === 503).map((a) => issue(a.userId, a.couponId, true)),
  );
  const unclean = retried.filter(
    (a) => a.status !== 200 && !(a.status === 409 && a.appCode === 'COUPON_ALREADY_ISSUED'),
  );
  expect(unclean).toEqual([]);

  const issued = answers.filter((a) => a.status === 200).concat(retried.filter((a) => a.status === 200));
  const lost: Answer[] = [];
  const onlyInPostgres: Answer[] = [];
  for (const couponId of couponIds) {
    const keys = s.rt.keys.coupon(couponId);
    const inRedis = await s.rt.redis.hgetall(keys.issued);
    const inPostgres = new Set((await listIssuedUsers(s.rt.db, couponId)).map((r) => r.userId));
    // Never more than the quantity, in either store.
    expect(Object.keys(inRedis).length - 1).toBeLessThanOrEqual(QUANTITY);
    expect(inPostgres.size).toBeLessThanOrEqual(QUANTITY);
    // Nothing issued twice: one pending entry per user at most.
    const pending = (await readPending(s.rt.redis, keys, QUANTITY)).map((e) => e.userId);
    expect(pending.length).toBe(new Set(pending).size);
    for (const a of issued.filter((x) => x.couponId === couponId)) {
      if (inRedis[String(a.userId)] !== undefined) continue;
      (inPostgres.has(a.userId) ? onlyInPostgres : lost).push(a);
    }
  }
  return { answers: answers.concat(retried), lost, onlyInPostgres, s, cluster, couponIds };
}

/** The measurements, printed even when the test passes (the config's `silent: 'passed-only'` hides console output). */
const report = (line: string) => process.stdout.write(`[failover] ${line}\n`);

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups) await cleanup().catch(() => {});
  cleanups = [];
});

const summary = (label: string, o: Outcome) => {
  const ok = o.answers.filter((a) => a.status === 200).length;
  const unavailable = o.answers.filter((a) => a.status === 503).length;
  report(
    `${label}: ${ok} answered ISSUED (retries included), ${unavailable} UNAVAILABLE, ` +
      `lost after failover: ${o.lost.length}, only in Postgres (Redis lost them): ${o.onlyInPostgres.length}`,
  );
};

describe.skipIf(!shared)('failover of a Redis Cluster master mid-crowd (pnpm test:cluster only)', () => {
  // The private cluster's ports: the shared test cluster's + 50, so neither touches the other.
  const basePort = Math.min(...(shared ?? []).map((n) => n.port)) + 50;

  it('REDIS_WAIT_REPLICAS=0: never 500, recovers on its own; reports how many answered issuances the failover lost', async () => {
    const o = await failover(basePort, { waitReplicas: 0, drain: true });
    summary('REDIS_WAIT_REPLICAS=0, persisting during the crowd', o);
    // Not asserted: asynchronous replication may lose the last answers before the kill, or not.
  });

  it('REDIS_WAIT_REPLICAS=0 with the replica lagging 300 ms at the kill (the control): answered issuances are lost', async () => {
    const o = await failover(basePort, { waitReplicas: 0, drain: false, lagMs: LAG_MS });
    summary(`REDIS_WAIT_REPLICAS=0, replica ${LAG_MS} ms behind at the kill`, o);
    // The same setup as the WAIT=1 case below, without WAIT: what the master answered during the
    // lag never reached the replica, so it is gone. Without this loss, "nothing lost" with WAIT
    // would prove nothing about WAIT. How many depends on the calls that land in the lag.
    expect(o.lost.length).toBeGreaterThan(0);
  });

  it('REDIS_WAIT_REPLICAS=1 with the replica lagging 300 ms at the kill, nothing persisted: every answered issuance survives, in `issued` and in `pending`', async () => {
    const o = await failover(basePort, { waitReplicas: 1, drain: false, lagMs: LAG_MS });
    summary(`REDIS_WAIT_REPLICAS=1, replica ${LAG_MS} ms behind at the kill, worker not persisting`, o);
    expect(o.lost).toEqual([]);
    expect(o.onlyInPostgres).toEqual([]);
    // Unpersisted issuances are in the promoted replica's pending streams, every one of them.
    for (const couponId of o.couponIds) {
      const keys = o.s.rt.keys.coupon(couponId);
      const pending = new Set((await readPending(o.s.rt.redis, keys, QUANTITY)).map((e) => e.userId));
      const answered = o.answers.filter((a) => a.couponId === couponId && a.status === 200);
      expect(answered.filter((a) => !pending.has(a.userId))).toEqual([]);
      // And the worker's job then persists exactly those: one row per issuance.
      await drainCouponPending(o.s.rt, couponId);
      const rows = new Set((await listIssuedUsers(o.s.rt.db, couponId)).map((r) => r.userId));
      expect(answered.filter((a) => !rows.has(a.userId))).toEqual([]);
    }
  });

  it("sends each WAIT to the master of the script's slot, in the script's pipeline", async () => {
    const s = await createTestServer({ overrides: { REDIS_WAIT_REPLICAS: '1' } });
    cleanups.push(() => s.cleanup());
    const admin = await s.token(1, { admin: true });
    const created = await call(
      s.app,
      'mutation',
      'admin.coupon.create',
      { name: 'Flash', discount: { type: 'FIXED', value: 1_000 }, totalQuantity: 10 },
      admin,
    );
    const couponId: number = created.body.result.data.couponId;
    const owner = await masterPortOf(shared![0]!.port, s.rt.keys.coupon(couponId).issued);
    const masters = s.rt.redis instanceof Cluster ? s.rt.redis.nodes('master') : [];
    const waits = async () =>
      new Map(
        await Promise.all(
          masters.map(async (m) => {
            const calls = /cmdstat_wait:calls=(\d+)/.exec(await m.info('commandstats'))?.[1];
            return [m.options.port!, Number(calls ?? 0)] as const;
          }),
        ),
      );
    // The first call may find the script missing on that master: NOSCRIPT, then EVAL and a second WAIT.
    expect((await call(s.app, 'mutation', 'coupon.issue', { couponId }, await s.token(6))).status).toBe(200);
    const before = await waits();
    const res = await call(s.app, 'mutation', 'coupon.issue', { couponId }, await s.token(7));
    expect(res.status).toBe(200);
    const after = await waits();
    expect(masters.length).toBe(3);
    for (const [port, calls] of after) expect(calls - before.get(port)!).toBe(port === owner ? 1 : 0);
  });
});

if (!shared) {
  describe('failover of a Redis Cluster master', () => {
    it.skip('skipped: REDIS_CLUSTER_NODES is unset (run `pnpm test:cluster`, which starts a cluster)', () => {});
  });
}
