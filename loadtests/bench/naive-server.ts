// The naive baseline of the benchmark: coupon issuance the way typical implementations do it,
// as one Postgres transaction that locks the coupon row (SELECT ... FOR UPDATE), checks the
// count and the user, inserts and increments. Every request for one coupon queues on that
// row lock, which is what a flash crowd turns into a wall.
// It uses tables of its own (bench_naive_*) in the bench's fresh database.
//   node loadtests/bench/naive-server.ts <total>      (prints "listening on <url>")
import { loadConfig } from '@flash/core';
import Fastify from 'fastify';
import pg from 'pg';

const total = Number(process.argv[2] ?? 1_000_000_000);
const COUPON_ID = 1;

const config = loadConfig();
// The same pool size the service uses for Postgres (packages/core/src/db/client.ts).
const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 20, application_name: 'bench-naive' });

await pool.query(`
  CREATE TABLE IF NOT EXISTS bench_naive_coupons (
    id bigint PRIMARY KEY, total_quantity integer NOT NULL, issued_count integer NOT NULL DEFAULT 0);
  CREATE TABLE IF NOT EXISTS bench_naive_issued (
    coupon_id bigint NOT NULL REFERENCES bench_naive_coupons(id), user_id bigint NOT NULL,
    issued_at timestamptz NOT NULL, PRIMARY KEY (coupon_id, user_id));
`);
await pool.query(
  'INSERT INTO bench_naive_coupons (id, total_quantity) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING',
  [COUPON_ID, total],
);

class Refused extends Error {}

const app = Fastify({ logger: false });
app.post('/issue', async (req, reply) => {
  const { userId } = req.body as { userId: number };
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<{ total_quantity: number; issued_count: number }>(
      'SELECT total_quantity, issued_count FROM bench_naive_coupons WHERE id = $1 FOR UPDATE',
      [COUPON_ID],
    );
    const coupon = rows[0];
    if (!coupon) throw new Refused('COUPON_NOT_FOUND');
    if (coupon.issued_count >= coupon.total_quantity) throw new Refused('COUPON_SOLD_OUT');
    const issuedAt = new Date();
    const inserted = await client.query(
      'INSERT INTO bench_naive_issued (coupon_id, user_id, issued_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
      [COUPON_ID, userId, issuedAt],
    );
    if (inserted.rowCount !== 1) throw new Refused('COUPON_ALREADY_ISSUED');
    const increment = 'UPDATE bench_naive_coupons SET issued_count = issued_count + 1 WHERE id = $1';
    await client.query(increment, [COUPON_ID]);
    await client.query('COMMIT');
    return { couponId: COUPON_ID, status: 'ISSUED', issuedAt: issuedAt.toISOString() };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    if (err instanceof Refused) return reply.code(409).send({ error: err.message });
    throw err;
  } finally {
    client.release();
  }
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () =>
    app.close().then(
      () => pool.end().finally(() => process.exit(0)),
      () => process.exit(1),
    ),
  );
}
console.log(`naive baseline listening on ${await app.listen({ port: config.port, host: config.host })}`);
