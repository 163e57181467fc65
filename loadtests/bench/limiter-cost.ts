// What the rate limits cost Redis inside the coupon script: the issue script driven directly
// (ioredis, many calls in flight, a new user per call, as the benchmark's rows send it) with
// both limits, each alone and none, and the Redis process's CPU per call from /proc. The
// address limit is set high enough never to refuse (all calls come from one address).
//   node loadtests/bench/limiter-cost.ts [calls=150000] [inFlight=100] [rounds=2]
// Runs on a fresh key prefix (deleted afterwards); prints one line per variant and round.
import { connectRedis, createKeys, loadConfig } from '@flash/core';
import { type IssueLimit, runIssueCoupon } from '@flash/core/coupon/coupon.store';
import { cpuTimeMs } from '../lib/children.ts';
import { createRunEnv } from '../lib/env.ts';

const [calls, inFlight, rounds] = [150_000, 100, 2].map((fallback, i) =>
  Number(process.argv[2 + i] ?? fallback),
);
if (![calls, inFlight, rounds].every((n) => Number.isSafeInteger(n) && n! > 0)) {
  throw new Error('usage: limiter-cost.ts [calls] [inFlight] [rounds]');
}

const run = await createRunEnv('limitercost');
const config = loadConfig(run.env);
const redis = await connectRedis(config.redisUrl, 'command', 'bench-limiter-cost');
const redisPid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]) || undefined;
const keys = createKeys(config.redisKeyPrefix);

// As config.rateLimit gives them by default (user: 20/s, burst 1000), address never refusing.
const user = (id: number): IssueLimit => ({ subject: `u:${id}`, intervalMicros: 50_000, burst: 1_000 });
const address: IssueLimit = { subject: 'ip:127.0.0.1', intervalMicros: 1, burst: 10_000_000 };
const off = (subject: string): IssueLimit => ({ subject, intervalMicros: 0, burst: 0 });
const variants: [string, (id: number) => { user: IssueLimit; ip: IssueLimit }][] = [
  ['both limits', (id) => ({ user: user(id), ip: address })],
  ['user limit only', (id) => ({ user: user(id), ip: off('ip:127.0.0.1') })],
  ['address limit only', (id) => ({ user: off(`u:${id}`), ip: address })],
  ['no limits', (id) => ({ user: off(`u:${id}`), ip: off('ip:127.0.0.1') })],
];

try {
  let couponId = 0;
  for (let round = 1; round <= rounds!; round++) {
    for (const [name, limitsFor] of variants) {
      const coupon = keys.coupon(++couponId);
      await redis.hset(coupon.meta, 'total', calls!, 'startsAt', 0, 'endsAt', 0, 'validDays', 7);
      await redis.hset(coupon.issued, '_', 1);
      let next = 0;
      const cpuBefore = cpuTimeMs(redisPid);
      const started = performance.now();
      const lane = async () => {
        while (next < calls!) {
          const userId = ++next;
          const result = await runIssueCoupon(redis, coupon, {
            userId,
            nowMs: Date.now(),
            limits: limitsFor(userId),
          });
          if (result.code !== 'OK') throw new Error(`${name}: ${JSON.stringify(result)}`);
        }
      };
      await Promise.all(Array.from({ length: inFlight! }, lane));
      const seconds = (performance.now() - started) / 1000;
      // The user limiters expire ~50 ms after their call; let Redis expire them inside the window.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const cpuUs = ((cpuTimeMs(redisPid) - cpuBefore) * 1000) / calls!;
      console.log(
        `round ${round} ${name.padEnd(18)} ${Math.round(calls! / seconds).toLocaleString('en-US')} calls/s, ` +
          `Redis CPU ${cpuUs.toFixed(1)} µs/call`,
      );
      await redis.del(coupon.meta, coupon.issued, coupon.pending);
    }
  }
} finally {
  redis.disconnect();
  await run.cleanup();
}
