import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Child, httpCall, startApi } from '../../../test/processes.ts';
import { createTestEnv, type TestEnv } from '../../../test/support.ts';
import { startTcpProxy, type TcpProxy } from '../../../test/tcp-proxy.ts';

/**
 * Postgres stops answering without closing anything (a partition that drops packets, a frozen
 * host): queries already sent on pooled connections get no answer, and new connections no
 * handshake. The API must still answer every call within its deadline (3 s per statement),
 * as UNAVAILABLE, and close the connections it gave up on instead of pooling them again.
 */

/** The deadline is 3 s; this bounds "about 3 s" with room for a busy machine. */
const DEADLINE_BOUND_MS = 6_000;

describe('fault: Postgres stops answering (packets dropped)', () => {
  let env: TestEnv;
  let proxy: TcpProxy;
  let api: (Child & { url: string }) | undefined;

  beforeAll(async () => {
    env = await createTestEnv();
    proxy = await startTcpProxy({
      host: '127.0.0.1',
      port: Number(new URL(env.config.databaseUrl).port || 5432),
    });
    const databaseUrl = new URL(env.config.databaseUrl);
    databaseUrl.port = String(proxy.port);
    api = await startApi({
      ...env.childEnv,
      NODE_ENV: 'production',
      AUTH_JWT_SECRET: env.config.jwtSecret,
      DATABASE_URL: databaseUrl.toString(),
    });
  });
  afterAll(async () => {
    await api?.kill();
    proxy?.restore();
    await proxy?.close();
    await env.cleanup();
  });

  it('answers UNAVAILABLE within the deadline, discards the connections, and heals', async () => {
    const { signToken } = await import('@flash/core');
    const buyer = await signToken(env.config.jwtSecret, 7);
    // Several pooled connections, opened and idle, as under traffic.
    const warm = await Promise.all(
      Array.from({ length: 6 }, () => httpCall(api!.url, 'query', 'balance.get', undefined, buyer)),
    );
    expect(warm.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);

    proxy.blackhole();
    const timed = async (send: () => Promise<{ status: number; body: any }>) => {
      const started = performance.now();
      const res = await send();
      return { ...res, ms: performance.now() - started };
    };
    const calls = [
      () => httpCall(api!.url, 'query', 'balance.get', undefined, buyer),
      () => httpCall(api!.url, 'mutation', 'balance.charge', { amount: 1_000 }, buyer),
      () => httpCall(api!.url, 'query', 'order.list', undefined, buyer),
    ];
    // One after another (each takes a pooled connection into the hole), then all at once.
    const answers = [];
    for (const send of calls) answers.push(await timed(send));
    answers.push(...(await Promise.all(calls.map(timed))));
    // Printed for docs/reliability.md (shown with --silent=false).
    console.log('postgres blackhole: answer times (ms)', answers.map((a) => Math.round(a.ms)).join(', '));
    for (const res of answers) {
      expect(res.status).toBe(503);
      expect(res.body.error.data).toMatchObject({ appCode: 'UNAVAILABLE' });
      expect(res.ms).toBeLessThan(DEADLINE_BOUND_MS);
    }
    const readyz = await timed(async () => {
      const res = await fetch(`${api!.url}/readyz`);
      return { status: res.status, body: await res.json() };
    });
    expect(readyz).toMatchObject({ status: 503, body: { postgres: 'down' } });
    expect(readyz.ms).toBeLessThan(DEADLINE_BOUND_MS);
    // Every connection that sent a statement into the hole was closed by the API.
    await expect.poll(() => proxy.stuck(), { timeout: 10_000 }).toBe(0);

    proxy.restore();
    await expect.poll(async () => (await fetch(`${api!.url}/readyz`)).status, { timeout: 15_000 }).toBe(200);
    const healed = await httpCall(api!.url, 'query', 'balance.get', undefined, buyer);
    expect(healed).toMatchObject({ status: 200, body: { result: { data: { balance: 0 } } } });
  });
});
