// Where a bench row's Redis is, a parameter of the row: the run's one Redis, a private primary
// with one replica (what REDIS_WAIT_REPLICAS costs), or a 6-node Redis Cluster (3 masters, 3
// replicas) from scripts/redis-cluster.sh. The first row that wants the cluster starts it; it is
// stopped when the run ends, also on an error or Ctrl-C (its redis-servers are daemons).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectRedisClient, loadConfig, masters, type RedisClient } from '@flash/core';
import { Cluster } from 'ioredis';
import { ROOT } from '../../test/processes.ts';
import { redisServerBin, startPrivateRedis } from '../../test/redis-server.ts';
import { log, settings } from './cli.ts';
import type { Ctx } from './harness.ts';

export type Topology = 'one Redis' | 'primary + replica' | 'Redis Cluster';

/** A row's Redis: its servers' environment, the run's context with its redis-server pids, a client. */
export type RowRedis = { env: NodeJS.ProcessEnv; ctx: Ctx; redis: RedisClient };

let cluster: { seeds: string; pids: number[]; down(): void } | undefined;

/** Runs `fn` on the topology; a private primary and replica are stopped after it. */
export async function onTopology<R>(
  ctx: Ctx,
  topology: Topology,
  env: Record<string, string>,
  fn: (t: RowRedis) => Promise<R>,
): Promise<R> {
  if (topology === 'one Redis') return fn({ env: { ...ctx.run.env, ...env }, ctx, redis: ctx.redis });
  const rowEnv: NodeJS.ProcessEnv = { ...ctx.run.env, ...env };
  let redisPids: (number | undefined)[];
  let stop = async () => {};
  if (topology === 'Redis Cluster') {
    cluster ??= startCluster();
    rowEnv.REDIS_CLUSTER_NODES = cluster.seeds;
    redisPids = cluster.pids;
  } else {
    const bin = redisServerBin();
    if (!bin) throw new Error('primary + replica: needs redis-server on PATH (REDIS_SERVER_BIN)');
    const primary = await startPrivateRedis({ bin });
    const replica = await startPrivateRedis({ bin, replicaOf: primary.port }).catch(async (err) => {
      await primary.stop();
      throw err;
    });
    stop = () => replica.stop().then(primary.stop);
    rowEnv.REDIS_URL = primary.url;
    redisPids = [primary.pid];
  }
  try {
    const redis = await connectRedisClient(loadConfig(rowEnv), 'command', 'bench');
    try {
      return await fn({ env: rowEnv, ctx: { ...ctx, redisPids }, redis });
    } finally {
      await redis.quit();
    }
  } finally {
    await stop();
  }
}

/** Stops the cluster if a row started one. */
export function stopCluster(): void {
  cluster?.down();
  cluster = undefined;
}

function startCluster(): NonNullable<typeof cluster> {
  const base = settings.clusterBasePort;
  const dir = path.join(os.tmpdir(), `flash-bench-cluster-${base}`);
  const script = path.join(ROOT, 'scripts/redis-cluster.sh');
  // The script's short node timeout suits failover tests; a failover in the middle of a row
  // would measure the failover, so the bench keeps Redis' own default.
  const env = {
    ...process.env,
    REDIS_CLUSTER_BASE_PORT: `${base}`,
    REDIS_CLUSTER_DIR: dir,
    REDIS_CLUSTER_NODE_TIMEOUT: '15000',
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const exitOn = (signal: NodeJS.Signals) => process.exit(128 + os.constants.signals[signal]);
  const release = () => {
    process.off('exit', down);
    for (const signal of signals) process.off(signal, exitOn);
  };
  function down() {
    release();
    const result = spawnSync(script, ['down'], { env, encoding: 'utf8' });
    log(
      result.status === 0
        ? `Redis Cluster on ${base}–${base + 5} stopped`
        : `stopping it failed: ${result.stderr}`,
    );
  }
  // Before `up`: a Ctrl-C while it runs must still stop the nodes it started.
  process.on('exit', down);
  for (const signal of signals) process.on(signal, exitOn);
  log(`starting a Redis Cluster (3 masters, 3 replicas) on 127.0.0.1:${base}–${base + 5}`);
  const up = spawnSync(script, ['up'], { env, encoding: 'utf8' });
  if (up.status !== 0) {
    // Someone else's servers on these ports and nothing started: not ours to stop.
    if (/already answers/.test(up.stderr)) release();
    else down();
    throw new Error(`scripts/redis-cluster.sh up failed (BENCH_CLUSTER_BASE_PORT moves it):\n${up.stderr}`);
  }
  const pids = Array.from({ length: 6 }, (_, i) => {
    const file = path.join(dir, `${base + i}`, 'redis.pid');
    return existsSync(file) ? Number(readFileSync(file, 'utf8')) : Number.NaN;
  });
  return { seeds: up.stdout.trim().split('\n').pop()!, pids, down };
}

/** Up to 3 items (made by `create`) whose keys sit on different masters, as a sale's spread. */
export async function spread<T extends { id: number }>(
  { redis }: RowRedis,
  keyOf: (item: T) => string,
  create: () => Promise<T>,
): Promise<T[]> {
  const master = async (key: string) =>
    redis instanceof Cluster
      ? redis.slots[Number(await redis.call('CLUSTER', 'KEYSLOT', key))]?.[0]
      : 'primary';
  const picked: { item: T; at?: string }[] = [];
  for (let n = 0; picked.length < Math.min(3, masters(redis).length); n++) {
    const item = await create();
    const at = await master(keyOf(item));
    // An item on a master already taken stays unused (unless no other master turns up).
    if (n < 40 && picked.some((p) => p.at === at)) continue;
    picked.push({ item, at });
  }
  log(`on ${picked.map((p) => `${p.item.id} → ${p.at}`).join(', ')}`);
  return picked.map((p) => p.item);
}
