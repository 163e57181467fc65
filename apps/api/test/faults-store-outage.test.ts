import { signToken } from '@flash/core';
import { listIssuedUsers } from '@flash/core/internal/coupon/coupon.repository';
import { findOrderStatuses } from '@flash/core/internal/order/order.repository';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Child, httpCall, startApi, startChild } from '../../../test/processes.ts';
import { createTestRuntime, type TestRuntime } from '../../../test/support.ts';
import { startTcpProxy, type TcpProxy } from '../../../test/tcp-proxy.ts';
import { workerReady } from './faults-helpers.ts';

/**
 * Postgres or Redis going away under a running API and worker (real processes). Each store is
 * reached through a TCP proxy that the test cuts, so the shared servers stay up for everyone
 * else. What must hold: requests that need the missing store answer 503 UNAVAILABLE promptly
 * (no hanging), those that do not need it keep working, /readyz says 503, and everything heals
 * by itself when the store returns, without restarting a process.
 */

/** Generous: the pool gives up connecting after 2 s; the point is "answers", not a latency SLO. */
const PROMPT_MS = 5_000;

describe('fault: Postgres or Redis unreachable', () => {
  let env: TestRuntime;
  let pgProxy: TcpProxy;
  let redisProxy: TcpProxy;
  let api: Child & { url: string };
  let worker: Child;
  let admin: string;
  let buyer: string;
  let productId: number;
  let couponId: number;
  const slowest: Record<string, number> = {};

  beforeAll(async () => {
    env = await createTestRuntime();
    pgProxy = await startTcpProxy({
      host: '127.0.0.1',
      port: Number(new URL(env.config.databaseUrl).port || 5432),
    });
    redisProxy = await startTcpProxy({
      host: '127.0.0.1',
      port: Number(new URL(env.config.redisUrl).port || 6379),
    });
    const databaseUrl = new URL(env.config.databaseUrl);
    databaseUrl.port = String(pgProxy.port);
    const redisUrl = new URL(env.config.redisUrl);
    redisUrl.port = String(redisProxy.port);
    // Production mode, as deployed: answers must carry no stack traces.
    const childEnv = {
      ...env.childEnv,
      NODE_ENV: 'production',
      AUTH_JWT_SECRET: env.config.jwtSecret,
      DATABASE_URL: databaseUrl.toString(),
      REDIS_URL: redisUrl.toString(),
    };
    api = await startApi(childEnv);
    worker = startChild('worker', childEnv);
    await workerReady(worker);

    admin = await signToken(env.config.jwtSecret, 1, { admin: true });
    buyer = await signToken(env.config.jwtSecret, 50);
    productId = (
      await httpCall(
        api.url,
        'mutation',
        'admin.product.create',
        { name: 'p', price: 1_000, stock: 100 },
        admin,
      )
    ).body.result.data.id;
    couponId = (
      await httpCall(
        api.url,
        'mutation',
        'admin.coupon.create',
        { name: 'c', discount: { type: 'FIXED', value: 100 }, totalQuantity: 1_000 },
        admin,
      )
    ).body.result.data.couponId;
    expect((await httpCall(api.url, 'mutation', 'balance.charge', { amount: 50_000 }, buyer)).status).toBe(
      200,
    );
  });
  afterAll(async () => {
    if (process.env.FAULTS_DEBUG) console.log(api?.output(), worker?.output());
    await api?.kill();
    await worker?.kill();
    pgProxy?.restore();
    redisProxy?.restore();
    await pgProxy?.close();
    await redisProxy?.close();
    await env.cleanup();
    // Measured worst answer times, printed for docs/reliability.md (shown with --silent=false).
    console.log('store outage: slowest answers (ms)', JSON.stringify(slowest));
  });

  /** Calls a procedure and measures how long the answer took. */
  const timed = async (kind: 'query' | 'mutation', procedure: string, input?: unknown, token?: string) => {
    const started = performance.now();
    const res = await httpCall(api.url, kind, procedure, input, token);
    const ms = Math.round(performance.now() - started);
    slowest[procedure] = Math.max(slowest[procedure] ?? 0, ms);
    return { ...res, ms };
  };
  const expectUnavailable = (res: { status: number; body: any; ms: number }) => {
    expect(res.status).toBe(503);
    expect(res.body.error.data).toMatchObject({ code: 'SERVICE_UNAVAILABLE', appCode: 'UNAVAILABLE' });
    expect(res.body.error.data.stack).toBeUndefined();
    expect(res.ms).toBeLessThan(PROMPT_MS);
  };
  const ready = async () => {
    const res = await fetch(`${api.url}/readyz`);
    return { status: res.status, body: await res.json() };
  };
  const persisted = async () =>
    (await listIssuedUsers(env.rt.db, couponId)).map((r) => r.userId).sort((a, b) => a - b);
  const createOrder = () => timed('mutation', 'order.create', { items: [{ productId, quantity: 1 }] }, buyer);

  it('Postgres down: 503 UNAVAILABLE within seconds, coupons still issued from Redis, /readyz 503, then heals by itself', async () => {
    const pending = await createOrder();
    expect(pending.status).toBe(200);
    const orderId = pending.body.result.data.orderId;
    // The sale page's public reads, once each while Postgres is up (a cold process loads what
    // never changes: names, prices, coupon terms).
    const publicReads = async () => ({
      product: await timed('query', 'product.get', { productId }),
      top: await timed('query', 'product.top'),
      coupon: await timed('query', 'coupon.get', { couponId }),
    });
    const before = await publicReads();

    pgProxy.cut();
    // Each of these needs Postgres; asked twice, so a pooled connection and a fresh connect are both covered.
    for (let round = 0; round < 2; round++) {
      expectUnavailable(await timed('query', 'balance.get', undefined, buyer));
      expectUnavailable(await timed('mutation', 'balance.charge', { amount: 1_000 }, buyer));
      expectUnavailable(await timed('query', 'order.get', { orderId }, buyer));
      expectUnavailable(await timed('query', 'order.list', undefined, buyer));
      expectUnavailable(await timed('mutation', 'payment.pay', { orderId }, buyer));
      expectUnavailable(
        await timed('query', 'coupon.mine', undefined, await signToken(env.config.jwtSecret, 51)),
      );
      expectUnavailable(
        await timed('mutation', 'admin.product.create', { name: 'x', price: 1, stock: 1 }, admin),
      );
    }
    const readyz = await ready();
    expect(readyz).toEqual({ status: 503, body: { status: 'unavailable', redis: 'ok', postgres: 'down' } });
    expect((await fetch(`${api.url}/healthz`)).status).toBe(200);

    // The flash-sale path lives in Redis: issuing goes on, and the worker persists it later.
    const issuedDuringOutage = [101, 102, 103];
    for (const userId of issuedDuringOutage) {
      const res = await timed(
        'mutation',
        'coupon.issue',
        { couponId },
        await signToken(env.config.jwtSecret, userId),
      );
      expect(res.status).toBe(200);
    }

    // So is the order rush: an order without coupon or key holds its stock in Redis and is
    // answered from there; it is saved in Postgres once Postgres is back.
    const orderedDuringOutage = await createOrder();
    expect(orderedDuringOutage.status).toBe(200);
    const unsavedId = orderedDuringOutage.body.result.data.orderId;
    // Reading it needs it saved first, so that waits for Postgres like any read of orders.
    expectUnavailable(await timed('query', 'order.get', { orderId: unsavedId }, buyer));

    // Public reads never wait on Postgres, so they never queue behind the writes' Postgres work
    // in a sale: answered from memory and Redis, with the counts the outage's calls changed.
    const during = await publicReads();
    for (const res of Object.values(during)) expect(res.status).toBe(200);
    expect(during.product.body.result.data).toEqual({
      ...before.product.body.result.data,
      stock: before.product.body.result.data.stock - 1,
    });
    expect(during.top.body).toEqual(before.top.body);
    expect(during.coupon.body.result.data).toEqual({
      ...before.coupon.body.result.data,
      remaining: before.coupon.body.result.data.remaining - issuedDuringOutage.length,
    });

    pgProxy.restore();
    await expect.poll(async () => (await ready()).status, { timeout: 10_000 }).toBe(200);
    // Same processes, no restart: everything works again and nothing answered was lost.
    expect((await timed('query', 'balance.get', undefined, buyer)).body.result.data.balance).toBe(50_000);
    const paid = await timed('mutation', 'payment.pay', { orderId }, buyer);
    expect(paid.body.result.data).toMatchObject({ status: 'PAID', amount: 1_000, balance: 49_000 });
    // The order answered during the outage reached Postgres (the worker saves it).
    await expect
      .poll(async () => (await findOrderStatuses(env.rt.db, [unsavedId])).get(unsavedId), { timeout: 15_000 })
      .toBe('PENDING_PAYMENT');
    const paidLater = await timed('mutation', 'payment.pay', { orderId: unsavedId }, buyer);
    expect(paidLater.body.result.data).toMatchObject({ status: 'PAID', amount: 1_000, balance: 48_000 });
    expect((await createOrder()).status).toBe(200);
    await expect.poll(persisted, { timeout: 15_000 }).toEqual(issuedDuringOutage);
  });

  it('Redis down: hot paths 503 UNAVAILABLE within seconds, Postgres-only reads still served, /readyz 503, then heals by itself', async () => {
    redisProxy.cut();
    for (let round = 0; round < 2; round++) {
      expectUnavailable(
        await timed('mutation', 'coupon.issue', { couponId }, await signToken(env.config.jwtSecret, 200)),
      );
      expectUnavailable(await createOrder());
      expectUnavailable(await timed('query', 'product.get', { productId }));
      expectUnavailable(await timed('query', 'product.top'));
    }
    // Reads that only need Postgres do not depend on Redis.
    const balance = await timed('query', 'balance.get', undefined, buyer);
    expect(balance.status).toBe(200);
    expect(balance.ms).toBeLessThan(PROMPT_MS);
    const readyz = await ready();
    expect(readyz).toEqual({ status: 503, body: { status: 'unavailable', redis: 'down', postgres: 'ok' } });
    // Scrapes still answer, saying the queues could not be read.
    const metrics = await (await fetch(`${api.url}/metrics`)).text();
    expect(metrics).toContain('flash_queue_up 0');

    redisProxy.restore();
    await expect.poll(async () => (await ready()).status, { timeout: 10_000 }).toBe(200);
    const issued = await timed(
      'mutation',
      'coupon.issue',
      { couponId },
      await signToken(env.config.jwtSecret, 201),
    );
    expect(issued.status).toBe(200);
    expect((await createOrder()).status).toBe(200);
    expect((await timed('query', 'product.get', { productId })).status).toBe(200);
    // The worker rode out the outage on its own connection and persists the new issuance.
    await expect.poll(persisted, { timeout: 15_000 }).toContain(201);
    expect(await persisted()).not.toContain(200);
  });
});
