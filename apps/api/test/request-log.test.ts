import { signToken } from '@flash/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Child, startApi } from '../../../test/processes.ts';
import { createTestEnv, type TestEnv } from '../../../test/support.ts';
import { isPoll } from '../src/plugins/request-log.ts';

type Line = Record<string, unknown> & { level: number; msg: string };

/**
 * The real API in development mode (as the README's `pnpm start` runs it) at LOG_LEVEL=info:
 * what it writes per request, and what its error answers carry.
 */
describe('request logs and error answers of a running API (NODE_ENV=development)', () => {
  let env: TestEnv;
  let api: (Child & { url: string }) | undefined;
  let admin: string;
  let user: string;
  beforeAll(async () => {
    env = await createTestEnv({ NODE_ENV: 'development', LOG_LEVEL: 'info' });
    api = await startApi(env.childEnv);
    admin = await signToken(env.config.jwtSecret, 1, { admin: true });
    user = await signToken(env.config.jwtSecret, 7);
  });
  afterAll(async () => {
    await api?.kill();
    await env.cleanup();
  });

  /** Lines written since `mark` (an offset into the output). */
  const linesSince = (mark: number): Line[] =>
    api!
      .output()
      .slice(mark)
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as Line);

  const get = (path: string, token?: string) =>
    fetch(`${api!.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const post = (path: string, body: string, token?: string) =>
    fetch(`${api!.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body,
    });
  const input = (v: unknown) => `?input=${encodeURIComponent(JSON.stringify(v))}`;

  it('200 requests write at most 200 lines: one per request at info, polls at debug', async () => {
    const created = await post(
      '/trpc/admin.coupon.create',
      JSON.stringify({ name: 'poll', discount: { type: 'FIXED', value: 100 }, totalQuantity: 1 }),
      admin,
    );
    const { couponId } = ((await created.json()) as { result: { data: { couponId: number } } }).result.data;
    // That call's own line is written just after its answer.
    await new Promise((r) => setTimeout(r, 300));
    const mark = api!.output().length;
    const sent: Promise<Response>[] = [];
    // A storefront polling its coupon and a monitor scraping: 120 polls.
    for (let i = 0; i < 100; i++) sent.push(get(`/trpc/coupon.get${input({ couponId })}`));
    for (let i = 0; i < 10; i++) sent.push(get('/metrics'), get('/healthz'));
    // 80 calls that matter, among them refusals.
    for (let i = 0; i < 40; i++) sent.push(get('/trpc/product.list'));
    for (let i = 0; i < 20; i++) sent.push(get('/trpc/balance.get', user));
    for (let i = 0; i < 10; i++) sent.push(get('/trpc/balance.get'));
    for (let i = 0; i < 10; i++)
      sent.push(post('/trpc/balance.charge', JSON.stringify({ amount: 10 }), user));
    expect(sent).toHaveLength(200);
    const answers = await Promise.all(sent);
    await Promise.all(answers.map((a) => a.arrayBuffer()));
    expect(answers.filter((a) => a.status === 401)).toHaveLength(10);
    expect(answers.filter((a) => a.status === 400)).toHaveLength(10);
    // The lines of the last answers are written right after them.
    await new Promise((r) => setTimeout(r, 300));

    const lines = linesSince(mark);
    expect(lines.length).toBeLessThanOrEqual(200);
    const requests = lines.filter((l) => l.msg === 'request');
    expect(requests).toHaveLength(80);
    expect(requests.every((l) => l.level === 30)).toBe(true);
    for (const l of requests) {
      expect(Object.keys(l)).toEqual(expect.arrayContaining(['method', 'path', 'status', 'ms', 'reqId']));
      expect(l.path).not.toContain('?');
    }
    const refused = requests.filter((l) => l.status === 401);
    expect(refused).toHaveLength(10);
    expect(refused[0]).toMatchObject({ method: 'GET', path: '/trpc/balance.get', appCode: 'UNAUTHORIZED' });
    expect(requests.filter((l) => l.appCode === 'CHARGE_AMOUNT_TOO_SMALL')).toHaveLength(10);
    expect(requests.filter((l) => l.status === 200 && 'appCode' in l)).toEqual([]);
    // Nothing else was written: no second line per request, no poll.
    expect(lines.filter((l) => l.msg !== 'request')).toEqual([]);
  });

  it('no answer carries a stack trace or a server path, in development mode too', async () => {
    const bodies: string[] = [];
    const collect = async (res: Promise<Response>) => {
      const r = await res;
      // 207: a batch whose calls failed with different statuses.
      expect(r.status === 207 || r.status >= 400, `${r.status}`).toBe(true);
      bodies.push(await r.text());
    };
    await collect(get(`/trpc/product.list${input({ limit: 0 })}`));
    await collect(get(`/trpc/product.get${input({ productId: 999_999 })}`));
    await collect(get('/trpc/balance.get'));
    await collect(get('/trpc/balance.get', 'not-a-token'));
    await collect(get('/trpc/no.such.procedure'));
    await collect(get('/trpc/balance.charge', user));
    await collect(post('/trpc/balance.charge', '{not json', user));
    await collect(post('/trpc/balance.charge', JSON.stringify({ amount: 10 }), user));
    await collect(post('/trpc/admin.coupon.create', '{}', user));
    await collect(
      get(`/trpc/product.get,balance.get?batch=1&input=${encodeURIComponent('{"0":{"productId":-1}}')}`),
    );
    await collect(get('/no/such/route'));
    await collect(get('/admin/queues'));
    for (const body of bodies) {
      expect(body).not.toMatch(/"stack"|node_modules|\/work\/|\.ts:\d+/);
    }
  });
});

describe('which requests are polls', () => {
  it('coupon.get and waitingRoom.get (alone or batched together), /metrics and the health checks', () => {
    for (const path of [
      '/metrics',
      '/healthz',
      '/readyz',
      '/trpc/coupon.get',
      '/trpc/waitingRoom.get',
      '/trpc/coupon.get,waitingRoom.get',
    ])
      expect(isPoll(path), path).toBe(true);
    for (const path of [
      '/trpc/coupon.issue',
      '/trpc/coupon.get,coupon.issue',
      '/trpc',
      '/trpc/',
      '/metricsx',
      '/',
    ])
      expect(isPoll(path), path).toBe(false);
  });
});
