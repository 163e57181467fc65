// The closing checks of the rehearsal and the benchmark on Postgres and Redis directly (the
// checks through the API are the scenario's): each returns violations, empty when all hold.
import { type Config, connectRedisClient, createKeys, type Keys, type RedisClient } from '@flash/core';
import pg from 'pg';
import { apiClient } from './client.ts';

export type Violations = string[];

/** Plain SQL, so a reader sees exactly what is counted. */
export type Sql = Pick<pg.Pool, 'query'>;

export function sqlPool(databaseUrl: string): pg.Pool {
  return new pg.Pool({ connectionString: databaseUrl, max: 4, application_name: 'loadtest-checks' });
}

/**
 * Coupons, from Redis (the decision) and Postgres (the record):
 * - never more issued than the quantity, in either store;
 * - nobody twice (Postgres' key makes a duplicate row impossible, so compare rows with distinct users);
 * - once drained, Postgres holds exactly what Redis issued and nothing is pending;
 * - Redis issued at least what clients saw succeed, and at most that plus the requests still in
 *   flight when the load stopped (answered after the load generator stopped listening).
 */
export async function checkCoupons(
  db: Sql,
  redis: RedisClient,
  keys: Keys,
  coupons: {
    couponId: number;
    quantity: number;
    label: string;
    /** Successful answers the clients saw, and how many more may have been cut off. */
    seen?: { ok: number; inFlight: number };
    drained: boolean;
  }[],
): Promise<Violations> {
  const violations: Violations = [];
  for (const c of coupons) {
    const k = keys.coupon(c.couponId);
    const [issuedFields, pending] = await Promise.all([redis.hlen(k.issued), redis.xlen(k.pending)]);
    const inRedis = Math.max(0, issuedFields - 1); // minus the "loaded" marker field
    const {
      rows: [row],
    } = await db.query<{ rows: number; users: number }>(
      'SELECT count(*)::int AS rows, count(DISTINCT user_id)::int AS users FROM issued_coupons WHERE coupon_id = $1',
      [c.couponId],
    );
    if (!row) throw new Error('count returned no row');
    const where = `${c.label} (coupon ${c.couponId})`;
    if (inRedis > c.quantity) violations.push(`${where}: Redis issued ${inRedis} > quantity ${c.quantity}`);
    if (row.rows > c.quantity)
      violations.push(`${where}: Postgres holds ${row.rows} > quantity ${c.quantity}`);
    if (row.users !== row.rows) violations.push(`${where}: ${row.rows - row.users} users hold it twice`);
    if (c.drained && (row.rows !== inRedis || pending !== 0)) {
      violations.push(
        `${where}: after the drain Postgres has ${row.rows}, Redis issued ${inRedis}, ${pending} pending`,
      );
    }
    if (c.seen && (inRedis < c.seen.ok || inRedis > c.seen.ok + c.seen.inFlight)) {
      violations.push(
        `${where}: clients saw ${c.seen.ok} issued (+ up to ${c.seen.inFlight} cut off) but Redis issued ${inRedis}`,
      );
    }
  }
  return violations;
}

/**
 * Stock, for each product: nothing negative, and every unit accounted for:
 * on hand in Postgres = initial - paid units, and available (what `product.get` says can be
 * ordered) = on hand - the units of open (pending) orders.
 */
export async function checkStock(
  db: Sql,
  /** `initialStock` when the caller knows it (seeded it); otherwise only the rest is checked. */
  products: { id: number; initialStock?: number; available: number; label?: string }[],
): Promise<Violations> {
  const violations: Violations = [];
  for (const p of products) {
    const where = p.label ?? `product ${p.id}`;
    const {
      rows: [row],
    } = await db.query<{ stock: number; paid: number; pending: number }>(
      `SELECT p.stock::float8 AS stock,
         (SELECT coalesce(sum(l.quantity), 0) FROM order_lines l JOIN orders o ON o.id = l.order_id
           WHERE l.product_id = p.id AND o.status = 'PAID')::float8 AS paid,
         (SELECT coalesce(sum(l.quantity), 0) FROM order_lines l JOIN orders o ON o.id = l.order_id
           WHERE l.product_id = p.id AND o.status = 'PENDING_PAYMENT')::float8 AS pending
       FROM products p WHERE p.id = $1`,
      [p.id],
    );
    if (!row) {
      violations.push(`${where}: missing in Postgres`);
      continue;
    }
    if (row.stock < 0 || p.available < 0)
      violations.push(`${where}: negative stock (${row.stock}, ${p.available})`);
    if (p.initialStock !== undefined && row.stock !== p.initialStock - row.paid) {
      violations.push(`${where}: on hand ${row.stock} != initial ${p.initialStock} - paid ${row.paid}`);
    }
    if (p.available !== row.stock - row.pending) {
      violations.push(`${where}: available ${p.available} != on hand ${row.stock} - held ${row.pending}`);
    }
  }
  return violations;
}

/**
 * Money: every paid order has exactly one payment and exactly one PAYMENT ledger row of its pay
 * amount (none when a coupon made it free); no payment without a paid order; every balance
 * equals its ledger (charges minus payments plus refunds) and is never negative.
 */
export async function checkPayments(db: Sql): Promise<Violations> {
  const violations: Violations = [];
  const badOrders = await db.query<{
    id: string;
    status: string;
    payments: number;
    debits: number;
    debited: number;
  }>(`
    WITH per_order AS (
      SELECT o.id, o.status, o.pay_amount,
        (SELECT count(*) FROM payments p WHERE p.order_id = o.id)::int AS payments,
        (SELECT count(*) FROM balance_ledger l JOIN payments p ON p.id = l.payment_id
           WHERE p.order_id = o.id AND l.kind = 'PAYMENT')::int AS debits,
        (SELECT coalesce(sum(l.amount), 0) FROM balance_ledger l JOIN payments p ON p.id = l.payment_id
           WHERE p.order_id = o.id AND l.kind = 'PAYMENT')::float8 AS debited
      FROM orders o)
    SELECT id, status, payments, debits, debited FROM per_order
    WHERE (status = 'PAID' AND (payments <> 1 OR debited <> pay_amount
                                OR debits <> (CASE WHEN pay_amount > 0 THEN 1 ELSE 0 END)))
       OR (status <> 'PAID' AND (payments <> 0 OR debits <> 0))
    LIMIT 20`);
  for (const o of badOrders.rows) {
    violations.push(
      `order ${o.id} (${o.status}): ${o.payments} payments, ${o.debits} debits of ${o.debited}`,
    );
  }
  const badUsers = await db.query<{ id: string; balance: string; ledger: string }>(`
    SELECT u.id, u.balance,
      coalesce(sum(CASE WHEN l.kind = 'PAYMENT' THEN -l.amount ELSE l.amount END), 0) AS ledger
    FROM users u LEFT JOIN balance_ledger l ON l.user_id = u.id
    GROUP BY u.id, u.balance
    HAVING u.balance < 0
        OR u.balance <> coalesce(sum(CASE WHEN l.kind = 'PAYMENT' THEN -l.amount ELSE l.amount END), 0)
    LIMIT 20`);
  for (const u of badUsers.rows)
    violations.push(`user ${u.id}: balance ${u.balance} but ledger says ${u.ledger}`);
  return violations;
}

/** Every check above once the worker drained, with what product.get offers through the API at `url`. */
export async function storeChecks(url: string, config: Config): Promise<Violations> {
  const db = sqlPool(config.databaseUrl);
  const redis = await connectRedisClient(config, 'command', 'loadtest-checks');
  const keys = createKeys(config.redisKeyPrefix);
  try {
    const coupons = await db.query<{ id: number; total_quantity: number }>(
      'SELECT id::int AS id, total_quantity FROM coupons',
    );
    // The worker persists issuances within about a second; it gets a bounded while.
    for (let deadline = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 200))) {
      let pending = 0;
      for (const { id } of coupons.rows) pending += await redis.xlen(keys.coupon(id).pending);
      if (pending === 0) break;
      if (Date.now() > deadline) throw new Error(`${pending} issuances still pending after 60 s`);
    }
    const api = apiClient(url);
    const products = await db.query<{ id: number }>('SELECT id::int AS id FROM products');
    const stock = [];
    for (const { id } of products.rows)
      stock.push({
        id,
        available: (await api.query<{ stock: number }>('product.get', { productId: id })).stock,
      });
    const quantities = coupons.rows.map((c) => ({
      couponId: c.id,
      quantity: c.total_quantity,
      label: 'coupon',
      drained: true,
    }));
    return [
      ...(await checkCoupons(db, redis, keys, quantities)),
      ...(await checkStock(db, stock)),
      ...(await checkPayments(db)),
    ];
  } finally {
    await redis.quit();
    await db.end();
  }
}
