// Ceiling 2 of the benchmark: the coupon Lua script alone, driven by ioredis with many calls
// in flight on one connection (as the API's single command connection carries them), no HTTP
// at all. Each call issues to a distinct user so every call succeeds.
//   node loadtests/bench/lua-direct.ts <couponId> <inFlight> <warmupSec> <durationSec>
// Prints one JSON line: { calls, durationSec, rps, p50, p95, p99, max, errors }.
import { connectRedis, createKeys, loadConfig } from '@flash/core';
import { runIssueCoupon } from '@flash/core/internal/coupon/coupon.store';
import { percentile, sortedLatencies } from '../lib/load.ts';

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
  let latencies = new Float64Array(1 << 18);
  let calls = 0;
  let errors = 0;
  const endAt = performance.now() + seconds * 1000;
  const lane = async () => {
    while (performance.now() < endAt) {
      const started = performance.now();
      try {
        const result = await runIssueCoupon(redis, keys, { userId: nextUser++, nowMs: Date.now() });
        if (result.code === 'OK') issued++;
        else errors++;
      } catch {
        errors++;
      }
      if (calls === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[calls++] = performance.now() - started;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: inFlight! }, lane));
  const elapsed = (performance.now() - started) / 1000;
  const sorted = sortedLatencies(latencies, calls);
  return {
    calls,
    durationSec: elapsed,
    rps: calls / elapsed,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    errors,
  };
}

await phase(warmupSec);
const result = await phase(durationSec);
console.log(JSON.stringify({ ...result, issued }));
redis.disconnect();
