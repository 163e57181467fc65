import { Redis } from 'ioredis';
import pg from 'pg';
import type { Config } from './config.ts';

export type Store = 'redis' | 'postgres';

/** One line per store that cannot be used; thrown before a process starts its work. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
]);
const START_HINT: Record<Store, string> = {
  redis:
    "start it with `docker compose up -d redis postgres` or your distribution's package (e.g. `apt install redis-server`), or set REDIS_URL",
  postgres:
    "start it with `docker compose up -d redis postgres` or your distribution's package (e.g. `apt install postgresql`), or set DATABASE_URL",
};
const LABEL: Record<Store, string> = { redis: 'Redis', postgres: 'Postgres' };

/** The URL without its password, fit for a log line. */
function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

/** One line saying which store, where, what went wrong, and what to do. */
export function describeStoreFailure(store: Store, url: string, err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const where = `${LABEL[store]} at ${shownUrl(url)}`;
  if (code === undefined || NETWORK_CODES.has(code)) {
    return `${where} is not reachable (${code ?? String(e?.message ?? err)}): ${START_HINT[store]}`;
  }
  return `${where} refused the connection (${code}: ${String(e.message)})`;
}

const CHECK_TIMEOUT_MS = 3_000;

async function checkRedis(url: string): Promise<void> {
  let first: unknown;
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: CHECK_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // The socket's error (with its code) comes as an event; connect() itself rejects with a generic one.
  redis.on('error', (err) => {
    first ??= err;
  });
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    throw first ?? err;
  } finally {
    redis.disconnect();
  }
}

async function checkPostgres(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: CHECK_TIMEOUT_MS });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    // The server answered; only the database is missing, which `pnpm migrate` creates.
    if ((err as { code?: string }).code === '3D000') return;
    throw err;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Checks that the stores answer before a process starts its work, so a missing Redis or
 * Postgres is one line each (which URL, the error code, how to start it), not a stack trace
 * from the first command that needed it. Once running, processes ride out outages instead.
 */
export async function checkStores(
  config: Pick<Config, 'redisUrl' | 'databaseUrl'>,
  stores: Store[] = ['redis', 'postgres'],
): Promise<void> {
  const urls: Record<Store, string> = { redis: config.redisUrl, postgres: config.databaseUrl };
  const checks: Record<Store, (url: string) => Promise<void>> = {
    redis: checkRedis,
    postgres: checkPostgres,
  };
  const results = await Promise.allSettled(stores.map((store) => checks[store](urls[store])));
  const lines = results.flatMap((result, i) =>
    result.status === 'rejected' ? [describeStoreFailure(stores[i]!, urls[stores[i]!], result.reason)] : [],
  );
  if (lines.length) throw new StoreUnavailableError(lines.join('\n'));
}
