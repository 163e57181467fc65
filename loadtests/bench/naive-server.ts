// The naive baseline of the benchmark: coupon issuance as typical implementations do it, one
// Postgres transaction that locks the coupon row (SELECT ... FOR UPDATE), checks the count and
// the user, inserts and increments. Every request queues on that row lock, which is what a flash
// crowd turns into a wall. Tables of its own (bench_naive_*) in the bench's fresh database.
//   node loadtests/bench/naive-server.ts <total>      (prints "listening on <url>")
import { loadConfig } from '@flash/core';
import Fastify from 'fastify';
import pg from 'pg';

const total = Number(process.argv[2] ?? 1_000_000_000);
const config = loadConfig();
// The same pool size the service uses for Postgres (packages/core/src/db/client.ts).
const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 20, application_name: 'bench-naive' });
await pool.query(`
  CREATE TABLE IF NOT EXISTS bench_naive_coupons (
    id bigint PRIMARY KEY, total_quantity integer NOT NULL, issued_count integer NOT NULL DEFAULT 0);
  CREATE TABLE IF NOT EXISTS bench_naive_issued (
    coupon_id bigint NOT NULL REFERENCES bench_naive_coupons(id), user_id bigint NOT NULL,
    issued_at timestamptz NOT NULL, PRIMARY KEY (coupon_id, user_id));
  INSERT INTO bench_naive_coupons (id, total_quantity) VALUES (1, ${Math.trunc(total)}) ON CONFLICT (id) DO NOTHING;
`);

const app = Fastify({ logger: false });
app.post('/issue', async (req, reply) => {
  const { userId } = req.body as { userId: number };
  const client = await pool.connect();
  const refuse = async (error: string) => {
    await client.query('ROLLBACK');
    return reply.code(409).send({ error });
  };
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<{ total_quantity: number; issued_count: number }>(
      'SELECT total_quantity, issued_count FROM bench_naive_coupons WHERE id = 1 FOR UPDATE',
    );
    if (!rows[0]) return await refuse('COUPON_NOT_FOUND');
    if (rows[0].issued_count >= rows[0].total_quantity) return await refuse('COUPON_SOLD_OUT');
    const issuedAt = new Date();
    const inserted = await client.query(
      'INSERT INTO bench_naive_issued (coupon_id, user_id, issued_at) VALUES (1, $1, $2) ON CONFLICT DO NOTHING',
      [userId, issuedAt],
    );
    if (inserted.rowCount !== 1) return await refuse('COUPON_ALREADY_ISSUED');
    await client.query('UPDATE bench_naive_coupons SET issued_count = issued_count + 1 WHERE id = 1');
    await client.query('COMMIT');
    return { couponId: 1, status: 'ISSUED', issuedAt: issuedAt.toISOString() };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => app.close().then(() => pool.end().finally(() => process.exit(0))));
}
console.log(`naive baseline listening on ${await app.listen({ port: config.port, host: config.host })}`);
