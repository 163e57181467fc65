// Where a bench row's Redis is, a parameter of the row: the run's one Redis, a private primary
// with one replica (what REDIS_WAIT_REPLICAS costs), or a 6-node Redis Cluster (3 masters, 3
// replicas) started with scripts/redis-cluster.sh on BENCH_CLUSTER_BASE_PORT. The cluster is
// started once by the first row that wants it and stopped when the run ends, also on an error or
// Ctrl-C (its redis-servers are daemons, outside the terminal's process group).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectRedisClient, loadConfig, masters, type RedisClient } from '@flash/core';
import { ROOT } from '../../test/processes.ts';
import { redisServerBin, startRedisServer } from '../lib/redis-server.ts';
import { log, settings } from './cli.ts';
import type { Ctx } from './harness.ts';

export type Topology = 'one Redis' | 'primary + replica' | 'Redis Cluster';

/** A row's Redis: the environment its servers get, a client, and which master serves a key. */
export type RowRedis = {
  env: NodeJS.ProcessEnv;
  /** The run's context with this Redis's pids, for Redis CPU per request. */
  ctx: Ctx;
  redis: RedisClient;
  masters: number;
  place(key: string): Promise<{ slot?: number; master: string }>;
  /** The replica's URL on `primary + replica`. */
  replicaUrl?: string;
};

type Cluster = { seeds: string; nodes: { name: string; pid: number }[]; down(): void };
let cluster: Cluster | undefined;

/** Runs `fn` on the topology; a private primary and replica are stopped after it. */
export async function onTopology<R>(
  ctx: Ctx,
  topology: Topology,
  env: Record<string, string>,
  fn: (t: RowRedis) => Promise<R>,
): Promise<R> {
  if (topology === 'one Redis') {
    const place = async () => ({ master: 'one Redis' });
    return fn({ env: { ...ctx.run.env, ...env }, ctx, redis: ctx.redis, masters: 1, place });
  }
  if (topology === 'Redis Cluster') {
    cluster ??= startCluster();
    const rowEnv = { ...ctx.run.env, ...env, REDIS_CLUSTER_NODES: cluster.seeds };
    const redis = await connectRedisClient(loadConfig(rowEnv), 'command', 'bench');
    try {
      const map = await slotMap(redis);
      return await fn({ env: rowEnv, ctx: { ...ctx, redisNodes: cluster.nodes }, redis, ...map });
    } finally {
      await redis.quit();
    }
  }
  const bin = redisServerBin();
  if (!bin) throw new Error('primary + replica: needs redis-server on PATH (REDIS_SERVER_BIN)');
  const primary = await startRedisServer(bin);
  const replica = await startRedisServer(bin, { replicaOf: primary.port }).catch(async (err) => {
    await primary.stop();
    throw err;
  });
  const rowEnv = { ...ctx.run.env, REDIS_URL: primary.url, ...env };
  const redis = await connectRedisClient(loadConfig(rowEnv), 'command', 'bench');
  try {
    return await fn({
      env: rowEnv,
      ctx: { ...ctx, redisPid: primary.process.pid },
      redis,
      masters: 1,
      place: async () => ({ master: 'primary' }),
      replicaUrl: replica.url,
    });
  } finally {
    await redis.quit();
    await replica.stop();
    await primary.stop();
  }
}

/** Stops the cluster if a row started one. */
export function stopCluster(): void {
  cluster?.down();
  cluster = undefined;
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function startCluster(): Cluster {
  const base = settings.clusterBasePort;
  const dir = path.join(os.tmpdir(), `flash-bench-cluster-${base}`);
  const script = path.join(ROOT, 'scripts/redis-cluster.sh');
  // A failover in the middle of a row would measure the failover: the script's 2 s node timeout
  // suits failover tests, Redis' own default suits a benchmark on a loaded machine.
  const env = {
    ...process.env,
    REDIS_CLUSTER_BASE_PORT: String(base),
    REDIS_CLUSTER_DIR: dir,
    REDIS_CLUSTER_NODE_TIMEOUT: '15000',
  };
  let stopped = false;
  const exitOn = (signal: NodeJS.Signals) => process.exit(128 + os.constants.signals[signal]);
  const release = () => {
    stopped = true;
    process.off('exit', down);
    for (const signal of SIGNALS) process.off(signal, exitOn);
  };
  const down = () => {
    if (stopped) return;
    release();
    const result = spawnSync(script, ['down'], { env, encoding: 'utf8' });
    log(
      result.status === 0
        ? `Redis Cluster on ${base}–${base + 5} stopped`
        : `stopping it failed: ${result.stderr}`,
    );
  };
  // Before `up`: a Ctrl-C while it runs must still stop the nodes it started.
  process.on('exit', down);
  for (const signal of SIGNALS) process.on(signal, exitOn);
  log(`starting a Redis Cluster (3 masters, 3 replicas) on 127.0.0.1:${base}–${base + 5}`);
  const up = spawnSync(script, ['up'], { env, encoding: 'utf8' });
  if (up.status !== 0) {
    // Someone else's server on these ports, and nothing started: not ours to stop.
    if (/already answers/.test(up.stderr)) release();
    else down();
    throw new Error(`scripts/redis-cluster.sh up failed (BENCH_CLUSTER_BASE_PORT moves it):\n${up.stderr}`);
  }
  const nodes = Array.from({ length: 6 }, (_, i) => {
    const pidFile = path.join(dir, String(base + i), 'redis.pid');
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : Number.NaN;
    return { name: `127.0.0.1:${base + i}`, pid };
  });
  return { seeds: up.stdout.trim().split('\n').pop()!, nodes, down };
}

/** CLUSTER SHARDS replies with flat [name, value, ...] arrays. */
function fields(reply: unknown): Map<string, unknown> {
  const list = reply as unknown[];
  const map = new Map<string, unknown>();
  for (let i = 0; i + 1 < list.length; i += 2) map.set(String(list[i]), list[i + 1]);
  return map;
}

/** Which master serves a key: CLUSTER SHARDS once, then CLUSTER KEYSLOT per key. */
async function slotMap(redis: RedisClient): Promise<Pick<RowRedis, 'masters' | 'place'>> {
  const node = masters(redis)[0]!;
  const ranges: { first: number; last: number; master: string }[] = [];
  for (const shard of (await node.call('CLUSTER', 'SHARDS')) as unknown[]) {
    const s = fields(shard);
    const master = (s.get('nodes') as unknown[]).map(fields).find((n) => n.get('role') === 'master');
    const slots = (s.get('slots') as unknown[]).map(Number);
    for (let i = 0; master && i + 1 < slots.length; i += 2) {
      ranges.push({
        first: slots[i]!,
        last: slots[i + 1]!,
        master: `${master.get('ip')}:${master.get('port')}`,
      });
    }
  }
  return {
    masters: new Set(ranges.map((r) => r.master)).size,
    async place(key) {
      const slot = Number(await node.call('CLUSTER', 'KEYSLOT', key));
      return { slot, master: ranges.find((r) => slot >= r.first && slot <= r.last)?.master ?? 'no master' };
    },
  };
}

/**
 * Picks `want` of `candidates` (created on demand by `next`), one per master while masters are
 * left, so the row's keys spread over the cluster as a real sale's do; logs where each one is.
 */
export async function spread<T extends { id: number }>(
  t: RowRedis,
  want: number,
  keyOf: (item: T) => string,
  next: (n: number) => Promise<T | undefined>,
): Promise<T[]> {
  const picked: { item: T; master: string; slot?: number }[] = [];
  for (let n = 0; picked.length < want; n++) {
    const item = await next(n);
    if (!item) break;
    const where = await t.place(keyOf(item));
    const taken = new Set(picked.map((p) => p.master));
    // Until every master has one, an item on a master already taken stays unused.
    if (taken.has(where.master) && taken.size < Math.min(want, t.masters) && n < 40) continue;
    picked.push({ item, ...where });
  }
  const where = picked.map(
    (p) => `${p.item.id} → ${p.master}${p.slot === undefined ? '' : ` (slot ${p.slot})`}`,
  );
  log(`on ${where.join(', ')}`);
  return picked.map((p) => p.item);
}
