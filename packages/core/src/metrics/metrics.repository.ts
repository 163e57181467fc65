import { sql } from 'kysely';
import type { Db } from '../db/client.ts';

/** Units on the lines of these orders, in one query (the API's units-sold counter). */
export async function sumOrderUnits(db: Db, orderIds: string[]): Promise<number> {
  if (orderIds.length === 0) return 0;
  const { rows } = await sql<{ units: number }>`
    SELECT coalesce(sum(quantity), 0)::int8 AS units FROM order_lines WHERE order_id = ANY(${orderIds}::uuid[])
  `.execute(db);
  return rows[0]?.units ?? 0;
}

/** The coupons a scrape reports on: the newest ones, which a running sale's are. */
export const COUPONS_REPORTED = 20;

/** Total quantity of the newest coupons (issued counts come from Redis, metrics.store.ts). */
export async function recentCoupons(db: Db): Promise<{ id: number; totalQuantity: number }[]> {
  const { rows } = await sql<{ id: number; total_quantity: number }>`
    SELECT id::int AS id, total_quantity FROM coupons ORDER BY id DESC LIMIT ${COUPONS_REPORTED}
  `.execute(db);
  return rows.map((r) => ({ id: r.id, totalQuantity: r.total_quantity }));
}

export type Backlog = { items: number; oldestSeconds: number };

/**
 * What the worker has not done yet that Postgres can see: unpaid orders past their expiry
 * (oldest = how long overdue the first one is) and paid orders not yet exported (oldest = the
 * first one's age). Both read through partial indexes on the pending rows only.
 */
export async function postgresBacklogs(db: Db): Promise<{ orderExpiry: Backlog; outboxExport: Backlog }> {
  const { rows } = await sql<{ kind: string; n: number; oldest: number | null }>`
    SELECT 'expiry' AS kind, count(*)::int AS n, extract(epoch FROM now() - min(expires_at))::float8 AS oldest
      FROM orders WHERE status = 'PENDING_PAYMENT' AND expires_at < now()
    UNION ALL
    SELECT 'outbox', count(*)::int, extract(epoch FROM now() - min(created_at))::float8
      FROM outbox WHERE published_at IS NULL
  `.execute(db);
  const of = (kind: string): Backlog => {
    const row = rows.find((r) => r.kind === kind);
    return { items: row?.n ?? 0, oldestSeconds: Math.max(0, row?.oldest ?? 0) };
  };
  return { orderExpiry: of('expiry'), outboxExport: of('outbox') };
}

/** Transactions committed and rolled back in this service's database since Postgres' stats reset. */
export async function databaseTransactions(db: Db): Promise<{ commits: number; rollbacks: number }> {
  const { rows } = await sql<{ commits: string; rollbacks: string }>`
    SELECT xact_commit AS commits, xact_rollback AS rollbacks
    FROM pg_stat_database WHERE datname = current_database()
  `.execute(db);
  return { commits: Number(rows[0]?.commits ?? 0), rollbacks: Number(rows[0]?.rollbacks ?? 0) };
}
