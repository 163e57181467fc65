import { signToken } from '@flash/core';
import { countExpiredOrders } from '@flash/core/internal/metrics/metrics.store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createTestServer, type TestServer } from '../../../test/support.ts';

/** One sample of a metric in Prometheus' text format (undefined when absent). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelText = line.startsWith(`${name}{`) ? line.slice(name.length + 1, line.indexOf('}')) : '';
    const have = labelText ? labelText.split(',') : [];
    if (wanted.every((w) => have.includes(w)) && have.length === wanted.length) {
      return Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return undefined;
}

describe('operators: Prometheus /metrics', () => {
  let s: TestServer;
  let admin: string;
  beforeAll(async () => {
    s = await createTestServer();
    admin = await s.token(1, { admin: true });
  });
  afterAll(() => s.cleanup());

  const scrape = async () => {
    const res = await s.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    return res.body;
  };

  it('times every procedure by outcome, counts refusals by appCode, issued coupons, paid orders and units sold', async () => {
    const buyer = await s.token(42);
    const couponId = (
      await call(
        s.app,
        'mutation',
        'admin.coupon.create',
        { name: 'm', discount: { type: 'FIXED', value: 500 }, totalQuantity: 10 },
        admin,
      )
    ).body.result.data.couponId;
    const product = (
      await call(s.app, 'mutation', 'admin.product.create', { name: 'p', price: 2_000, stock: 10 }, admin)
    ).body.result.data;

    expect((await call(s.app, 'mutation', 'coupon.issue', { couponId }, buyer)).status).toBe(200);
    expect((await call(s.app, 'mutation', 'coupon.issue', { couponId }, buyer)).status).toBe(409);
    expect((await call(s.app, 'mutation', 'coupon.issue', { couponId: 'x' }, buyer)).status).toBe(400);
    expect((await call(s.app, 'mutation', 'coupon.issue', { couponId })).status).toBe(401);
    await call(s.app, 'mutation', 'balance.charge', { amount: 10_000 }, buyer);
    const order = await call(
      s.app,
      'mutation',
      'order.create',
      { items: [{ productId: product.id, quantity: 3 }] },
      buyer,
    );
    expect(order.status).toBe(200);
    const paid = await call(
      s.app,
      'mutation',
      'payment.pay',
      { orderId: order.body.result.data.orderId },
      buyer,
    );
    expect(paid.status).toBe(200);

    const text = await scrape();
    const issue = { procedure: 'coupon.issue' };
    expect(sample(text, 'flash_procedure_duration_seconds_count', { ...issue, outcome: 'ok' })).toBe(1);
    expect(
      sample(text, 'flash_procedure_duration_seconds_bucket', { ...issue, outcome: 'ok', le: '+Inf' }),
    ).toBe(1);
    for (const code of ['COUPON_ALREADY_ISSUED', 'INVALID_INPUT', 'UNAUTHORIZED']) {
      expect(sample(text, 'flash_procedure_duration_seconds_count', { ...issue, outcome: code })).toBe(1);
      expect(sample(text, 'flash_refusals_total', { ...issue, code })).toBe(1);
    }
    expect(sample(text, 'flash_coupons_issued_total', { coupon_id: String(couponId) })).toBe(1);
    expect(sample(text, 'flash_orders_created_total')).toBe(1);
    expect(sample(text, 'flash_orders_paid_total')).toBe(1);
    expect(sample(text, 'flash_paid_amount_krw_total')).toBe(6_000);
    expect(sample(text, 'flash_units_sold_total')).toBe(3);
    // Summed once: a second scrape does not count the same order again.
    expect(sample(await scrape(), 'flash_units_sold_total')).toBe(3);
    // Node process metrics come along.
    expect(sample(text, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
  });

  it('reads what the dashboard needs from the stores on each scrape: coupon progress, backlogs, expiries, Redis, Postgres, the event loop', async () => {
    const couponId = (
      await call(
        s.app,
        'mutation',
        'admin.coupon.create',
        { name: 'q', discount: { type: 'FIXED', value: 500 }, totalQuantity: 7 },
        admin,
      )
    ).body.result.data.couponId;
    for (const user of [51, 52]) {
      expect((await call(s.app, 'mutation', 'coupon.issue', { couponId }, await s.token(user))).status).toBe(
        200,
      );
    }
    await countExpiredOrders(s.rt.redis, s.rt.keys, 3);
    const text = await scrape();
    const coupon = { coupon_id: String(couponId) };
    expect(sample(text, 'flash_coupon_quantity', coupon)).toBe(7);
    expect(sample(text, 'flash_coupon_issued', coupon)).toBe(2);
    // No worker runs here: both issuances still wait in the pending stream.
    expect(sample(text, 'flash_backlog_items', { backlog: 'coupon-persist' })).toBeGreaterThanOrEqual(2);
    expect(
      sample(text, 'flash_backlog_oldest_seconds', { backlog: 'coupon-persist' }),
    ).toBeGreaterThanOrEqual(0);
    // No worker: the earlier test's payment waits in the outbox; no order is due yet.
    const unexported = await s.rt.db
      .selectFrom('outbox')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('published_at', 'is', null)
      .executeTakeFirstOrThrow();
    expect(sample(text, 'flash_backlog_items', { backlog: 'outbox-export' })).toBe(Number(unexported.n));
    expect(sample(text, 'flash_backlog_items', { backlog: 'order-expiry' })).toBe(0);
    expect(sample(text, 'flash_orders_expired_total')).toBe(3);
    expect(
      sample(text, 'flash_queue_oldest_waiting_seconds', { queue: 'coupon-persist' }),
    ).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'flash_redis_up')).toBe(1);
    expect(sample(text, 'flash_redis_used_memory_bytes')).toBeGreaterThan(0);
    expect(sample(text, 'flash_redis_maxmemory_bytes')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'flash_redis_cpu_seconds_total')).toBeGreaterThan(0);
    expect(sample(text, 'flash_postgres_up')).toBe(1);
    const commits = sample(text, 'flash_postgres_commits_total')!;
    expect(commits).toBeGreaterThan(0);
    // A total read from Postgres (whose backends report their statistics about once a second).
    await s.rt.db.selectNoFrom((eb) => eb.val(1).as('x')).execute();
    await expect
      .poll(async () => sample(await scrape(), 'flash_postgres_commits_total'), { interval: 300 })
      .toBeGreaterThan(commits);
    expect(sample(text, 'nodejs_eventloop_lag_p99_seconds')).toBeGreaterThanOrEqual(0);
    // The GC histogram has a series once a collection has happened since the registry began, and
    // a quiet test may not have collected yet: make young garbage (a scavenge follows a few MB of
    // it) until the observer has reported one.
    const churn = () => {
      let kept = 0;
      for (let i = 0; i < 200_000; i++) kept += new Array(32).fill(i).length;
      return kept;
    };
    await expect
      .poll(async () => (churn() > 0 ? scrape() : ''), { interval: 100 })
      .toMatch(/^nodejs_gc_duration_seconds_count\{kind="\w+"\} \d+/m);
  });

  it('reports depth and failed jobs for every queue on each scrape', async () => {
    const queue = s.rt.queues['outbox-export'];
    const before = await scrape();
    expect(sample(before, 'flash_queue_up')).toBe(1);
    for (const name of ['coupon-persist', 'order-persist', 'order-expiry', 'outbox-export', 'maintenance']) {
      expect(sample(before, 'flash_queue_jobs', { queue: name, state: 'failed' })).toBe(0);
    }
    const depth = sample(before, 'flash_queue_depth', { queue: 'outbox-export' })!;
    await queue.add('export', { outboxId: 1 }, { delay: 60_000 });
    const after = await scrape();
    expect(sample(after, 'flash_queue_depth', { queue: 'outbox-export' })).toBe(depth + 1);
    expect(sample(after, 'flash_queue_jobs', { queue: 'outbox-export', state: 'delayed' })).toBeGreaterThan(
      0,
    );
  });
});

describe('operators: the queue dashboard is for admins only', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await createTestServer();
  });
  afterAll(() => s.cleanup());

  const get = (url: string, headers: Record<string, string> = {}) =>
    s.app.inject({ method: 'GET', url, headers });

  it('401 without a token or with a bad one, 403 for a non-admin, 200 for an admin', async () => {
    const user = await s.token(7);
    const admin = await s.token(1, { admin: true });
    const expired = await signToken(s.config.jwtSecret, 1, { admin: true, expiresIn: -3600 });
    const forged = await signToken('x'.repeat(40), 1, { admin: true });
    for (const url of ['/admin/queues', '/admin/queues/api/queues', '/admin/queues/static/images/logo.svg']) {
      const anonymous = await get(url);
      expect(anonymous.statusCode, url).toBe(401);
      expect(anonymous.headers['www-authenticate']).toBe('Bearer');
      expect((await get(url, { authorization: `Bearer ${expired}` })).statusCode, url).toBe(401);
      expect((await get(url, { authorization: `Bearer ${forged}` })).statusCode, url).toBe(401);
      expect((await get(url, { authorization: `Bearer ${user}` })).statusCode, url).toBe(403);
    }
    const page = await get('/admin/queues', { authorization: `Bearer ${admin}` });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    const api = await get('/admin/queues/api/queues', { authorization: `Bearer ${admin}` });
    expect(api.statusCode).toBe(200);
    expect(
      api
        .json()
        .queues.map((q: { name: string }) => q.name)
        .sort(),
    ).toEqual(['coupon-persist', 'maintenance', 'order-expiry', 'order-persist', 'outbox-export']);
    // Mutations are guarded too.
    const retry = await s.app.inject({
      method: 'PUT',
      url: '/admin/queues/api/queues/maintenance/retry/failed',
      headers: { authorization: `Bearer ${user}` },
    });
    expect(retry.statusCode).toBe(403);
  });

  it('a browser without an admin token gets a short page that says how to sign in', async () => {
    const browser = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };
    const anonymous = await get('/admin/queues', browser);
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.headers['content-type']).toMatch(/^text\/html/);
    expect(anonymous.body).toContain('pnpm run token 1 --admin');
    expect(anonymous.body).toContain('/admin/queues?token=');
    expect(anonymous.body.length).toBeLessThan(2000);
    const user = await s.token(7);
    const notAdmin = await get('/admin/queues', { ...browser, authorization: `Bearer ${user}` });
    expect(notAdmin.statusCode).toBe(403);
    expect(notAdmin.body).toContain('not an admin');
    // The dashboard's own API calls and scripts keep the JSON refusal.
    const script = await get('/admin/queues/api/queues', { accept: 'application/json' });
    expect(script.statusCode).toBe(401);
    expect(script.json()).toEqual({ error: { appCode: 'UNAUTHORIZED' } });
  });

  it('a browser signs in once with ?token=: HttpOnly SameSite=Strict cookie scoped to the dashboard, token dropped from the URL', async () => {
    const admin = await s.token(1, { admin: true });
    const signIn = await get(`/admin/queues/queue/maintenance?status=failed&token=${admin}`);
    expect(signIn.statusCode).toBe(303);
    expect(signIn.headers.location).toBe('/admin/queues/queue/maintenance?status=failed');
    const cookie = String(signIn.headers['set-cookie']);
    expect(cookie).toMatch(/^flash_admin_token=[\w-]+\.[\w-]+\.[\w-]+;/);
    expect(cookie).toContain('Path=/admin/queues;');
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    const maxAge = Number(/Max-Age=(\d+)/.exec(cookie)![1]);
    expect(maxAge).toBeGreaterThan(11 * 3600);
    expect(maxAge).toBeLessThanOrEqual(12 * 3600);

    const jar = cookie.split(';')[0]!;
    expect((await get('/admin/queues/api/queues', { cookie: jar })).statusCode).toBe(200);
    expect((await get('/admin/queues', { cookie: `other=1; ${jar}` })).statusCode).toBe(200);

    // A non-admin's or a bad token is refused and sets nothing; so is a tampered cookie.
    const user = await s.token(7);
    const denied = await get(`/admin/queues?token=${user}`);
    expect(denied.statusCode).toBe(403);
    expect(denied.headers['set-cookie']).toBeUndefined();
    expect((await get('/admin/queues?token=nonsense')).statusCode).toBe(401);
    expect((await get('/admin/queues', { cookie: `${jar}x` })).statusCode).toBe(401);
    // The cookie does not open anything outside the dashboard.
    const elsewhere = await call(s.app, 'query', 'balance.get');
    expect(elsewhere.status).toBe(401);
  });
});
