// Ceiling 1 of the benchmark: a bare Fastify route running coupon.issue's Lua script through the
// same wrapper, with no tRPC, auth or zod: what coupon.issue costs beyond it is the API layer's.
// --limits adds the caller's rate limits to the script, as coupon.issue's call does.
//   node loadtests/bench/bare-server.ts <couponId> [--limits]    (prints "listening on <url>")
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
