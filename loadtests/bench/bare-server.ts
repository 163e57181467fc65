// Ceiling 1 of the benchmark: a bare Fastify route that runs the same coupon Lua script as
// `coupon.issue`, through the same typed wrapper, with no tRPC, no auth and no zod. Whatever
// `coupon.issue` costs beyond this route is the price of the API layer.
//   node loadtests/bench/bare-server.ts <couponId> [--limits]    (prints "listening on <url>")
// With --limits the script also checks the caller's user and address limits, as coupon.issue's
// call does: the same Redis work, without the API layer.
import { connectRedis, createKeys, loadConfig } from '@flash/core';
import { runIssueCoupon } from '@flash/core/internal/coupon/coupon.store';
import { callerLimits } from '@flash/core/internal/rate-limit/rate-limit.service';
import Fastify from 'fastify';

const couponId = Number(process.argv[2]);
if (!Number.isSafeInteger(couponId) || couponId <= 0) throw new Error('usage: bare-server.ts <couponId>');
const withLimits = process.argv.includes('--limits');
const config = loadConfig();
const redis = await connectRedis(config.redisUrl, 'command', 'bench-bare');
const keys = createKeys(config.redisKeyPrefix).coupon(couponId);

const app = Fastify({ logger: false });
app.post('/issue', async (req, reply) => {
  const { userId } = req.body as { userId: number };
  const nowMs = Date.now();
  const limits = withLimits ? callerLimits({ config }, { userId, ip: req.ip }) : undefined;
  const result = await runIssueCoupon(redis, keys, { userId, nowMs, limits });
  if (result.code !== 'OK') return reply.code(409).send({ result });
  return { couponId, status: 'ISSUED', issuedAt: new Date(nowMs).toISOString() };
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => app.close().then(() => redis.quit().finally(() => process.exit(0))));
}
console.log(`bare route listening on ${await app.listen({ port: config.port, host: config.host })}`);
