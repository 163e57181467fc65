// Ceiling 2 of the benchmark: the coupon Lua script alone, driven by ioredis with many calls in
// flight on one connection (as the API's command connection carries them), no HTTP. Each call
// issues to a distinct user so every call succeeds.
//   node loadtests/bench/lua-direct.ts <couponId> <inFlight> <warmupSec> <durationSec>
// Prints one JSON line: { requests, durationSec, rps, p50, p95, p99, max, errors, issued }.
import { connectRedis, createKeys, loadConfig } from '@flash/core';
import { runIssueCoupon } from '@flash/core/internal/coupon/coupon.store';
import { percentile } from '../lib/load.ts';

const [couponId, inFlight, warmupSec, durationSec] = process.argv.slice(2).map(Number);
if (!couponId || !inFlight || warmupSec === undefined || !durationSec) {
  throw new Error('usage: lua-direct.ts <couponId> <inFlight> <warmupSec> <durationSec>');
}
const config = loadConfig();
const redis = await connectRedis(config.redisUrl, 'command', 'bench-lua-direct');
const keys = createKeys(config.redisKeyPrefix).coupon(couponId);

let nextUser = 1;
/** Issued over warm-up and measurement: what Redis must count for this coupon afterwards. */
let issued = 0;
async function phase(seconds: number) {
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const lane = async () => {
    while (performance.now() < started + seconds * 1000) {
      const sent = performance.now();
      const call = runIssueCoupon(redis, keys, { userId: nextUser++, nowMs: Date.now() });
      if ((await call.catch(() => undefined))?.code === 'OK') issued++;
      else errors++;
      latencies.push(performance.now() - sent);
    }
  };
  await Promise.all(Array.from({ length: inFlight! }, lane));
  const durationSec = (performance.now() - started) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  const [p50, p95, p99, max] = [50, 95, 99, 100].map((p) => percentile(sorted, p));
  const requests = sorted.length;
  return { requests, durationSec, rps: requests / durationSec, p50, p95, p99, max, errors };
}

await phase(warmupSec);
console.log(JSON.stringify({ ...(await phase(durationSec)), issued }));
redis.disconnect();
