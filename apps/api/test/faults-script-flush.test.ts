import { signToken } from '@flash/core';
import { listIssuedUsers } from '@flash/core/internal/coupon/coupon.repository';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Child, httpCall } from '../../../test/processes.ts';
import type { PrivateRedis } from '../../../test/redis-server.ts';
import type { TestRuntime } from '../../../test/support.ts';
import { seedSale, startPrivateStack, stopPrivateStack, waitFor } from './faults-helpers.ts';

/**
 * SCRIPT FLUSH (what a Redis restart or failover does to the script cache) hammered while a
 * sale runs through a real API and worker: every Lua script, ours and BullMQ's, must reload on
 * NOSCRIPT without a single request failing. A private redis-server, so the shared one's
 * cache is left alone.
 */
describe('fault: SCRIPT FLUSH during traffic', () => {
  let redis: PrivateRedis;
  let env: TestRuntime;
  let api: Child & { url: string };
  let worker: Child;
  beforeAll(async () => {
    ({ redis, env, api, worker } = await startPrivateStack());
  }, 120_000);
  afterAll(() => stopPrivateStack({ redis, env, api, worker }));

  it('no request fails, nothing is issued or sold beyond the limits, everything is persisted', async () => {
    const secret = env.config.jwtSecret;
    const admin = await signToken(secret, 1, { admin: true });
    const quantity = 300;
    const stock = 200;
    const { couponId, productId } = await seedSale(api.url, admin, { name: 'flush', quantity, stock });

    const flusher = new Redis(redis.url);
    const noscriptErrors = async () =>
      Number(/errorstat_NOSCRIPT:count=(\d+)/.exec(await flusher.info('errorstats'))?.[1] ?? 0);
    const noscriptBefore = await noscriptErrors();
    // Requests in flight right now: the background flusher counts the flushes that land among them.
    let inFlight = 0;
    let flushesAmidRequests = 0;
    let flushing = true;
    const background = (async () => {
      while (flushing) {
        const amid = inFlight > 0;
        await flusher.script('FLUSH');
        if (amid && inFlight > 0) flushesAmidRequests++;
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const send = async (...args: Parameters<typeof httpCall>) => {
      inFlight++;
      try {
        return await httpCall(...args);
      } finally {
        inFlight--;
      }
    };

    type Answer = { status: number; appCode?: string };
    const answers: Record<string, Answer[]> = {};
    const record = (procedure: string, res: { status: number; body: any }) => {
      const list = answers[procedure] ?? [];
      answers[procedure] = list;
      list.push({ status: res.status, appCode: res.body.error?.data?.appCode });
      return res;
    };
    // One buyer: charge, issue, order one unit, pay; 400 buyers in waves of 50, a flush between waves.
    const buyers = Array.from({ length: 400 }, (_, i) => 1_000 + i);
    const paidBy = new Set<number>();
    const issuedTo = new Set<number>();
    for (let wave = 0; wave < buyers.length; wave += 50) {
      await flusher.script('FLUSH');
      await Promise.all(
        buyers.slice(wave, wave + 50).map(async (userId) => {
          const token = await signToken(secret, userId);
          record(
            'balance.charge',
            await send(api.url, 'mutation', 'balance.charge', { amount: 5_000 }, token),
          );
          const issued = record(
            'coupon.issue',
            await send(api.url, 'mutation', 'coupon.issue', { couponId }, token),
          );
          if (issued.status === 200) issuedTo.add(userId);
          const order = record(
            'order.create',
            await send(api.url, 'mutation', 'order.create', { items: [{ productId, quantity: 1 }] }, token),
          );
          record('product.top', await send(api.url, 'query', 'product.top'));
          if (order.status !== 200) return;
          const paid = record(
            'payment.pay',
            await send(
              api.url,
              'mutation',
              'payment.pay',
              { orderId: order.body.result.data.orderId },
              token,
            ),
          );
          if (paid.status === 200) paidBy.add(userId);
        }),
      );
    }
    flushing = false;
    await background;
    const noscriptDuring = (await noscriptErrors()) - noscriptBefore;
    await flusher.quit();

    // The flushes landed among the requests, not only between the waves (8 of those)...
    expect(flushesAmidRequests).toBeGreaterThanOrEqual(20);
    // ...and took scripts from under their callers, who got NOSCRIPT and reloaded them...
    expect(noscriptDuring).toBeGreaterThan(0);
    // ...and not one failed: every answer is a success or the sale's own "gone" answer.
    const refusals = Object.entries(answers).flatMap(([procedure, list]) =>
      list.filter((a) => a.status !== 200).map((a) => `${procedure} ${a.status} ${a.appCode}`),
    );
    expect(new Set(refusals)).toEqual(
      new Set(['coupon.issue 409 COUPON_SOLD_OUT', 'order.create 409 OUT_OF_STOCK']),
    );
    expect(issuedTo.size).toBe(quantity);
    expect(paidBy.size).toBe(stock);

    // Postgres agrees once the worker (whose BullMQ scripts were flushed too) has drained.
    await waitFor(
      'the issuances to be persisted',
      async () => (await listIssuedUsers(env.rt.db, couponId)).length === quantity,
    );
    const persisted = (await listIssuedUsers(env.rt.db, couponId)).map((r) => r.userId);
    expect(new Set(persisted)).toEqual(issuedTo);
    const product = (await httpCall(api.url, 'query', 'product.get', { productId })).body.result.data;
    expect(product.stock).toBe(0);
    const top = (await httpCall(api.url, 'query', 'product.top')).body.result.data.items;
    expect(top).toEqual([{ productId, name: 'flush', price: 1_000, soldQuantity: stock }]);
  });
});
