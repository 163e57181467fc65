import { Redis } from 'ioredis';
import pg from 'pg';
import type { Config } from './config.ts';

export type Store = 'redis' | 'postgres';

/** One line per store that cannot be used; thrown before a process starts its work. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
}

const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
]);
const START_HINT: Record<Store, string> = {
  redis:
    "start it with `docker compose up -d redis postgres` or your distribution's package (e.g. `apt install redis-server`), or set REDIS_URL (REDIS_CLUSTER_NODES for a cluster)",
  postgres:
    "start it with `docker compose up -d redis postgres` or your distribution's package (e.g. `apt install postgresql`), or set DATABASE_URL",
};
const LABEL: Record<Store, string> = { redis: 'Redis', postgres: 'Postgres' };

/** The URL without its password, fit for a log line. */
function shownUrl(url: string): string {
  if (url.includes(',')) return url.split(',').map(shownUrl).join(',');
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
  if (code === 'NOT_A_CLUSTER') {
    return `${where}: ${String(e.message)}; REDIS_CLUSTER_NODES names nodes of a Redis Cluster (for one Redis set REDIS_URL instead)`;
  }
  if (code === undefined || NETWORK_CODES.has(code)) {
    return `${where} is not reachable (${code ?? String(e?.message ?? err)}): ${START_HINT[store]}`;
  }
  return `${where} refused the connection (${code}: ${String(e.message)})`;
}

const CHECK_TIMEOUT_MS = 3_000;

/** Connects once, without retries, and runs `probe`; rejects with the socket's own error. */
async function withProbe(url: string, probe: (redis: Redis) => Promise<void>): Promise<void> {
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
    await probe(redis);
  } catch (err) {
    throw first ?? err;
  } finally {
    redis.disconnect();
  }
}

async function checkRedis(url: string): Promise<void> {
  await withProbe(url, async (redis) => {
    await redis.ping();
  });
}

/**
 * A cluster is usable when one seed node answers as a cluster node (the client learns the rest
 * from it). A seed that is a plain Redis would leave the cluster client retrying forever, so it
 * is named here instead. The cluster's state is not required to be `ok`: a failover under way
 * at start-up is ridden out like one later on.
 */
async function checkRedisCluster(seeds: string[]): Promise<void> {
  let last: unknown;
  for (const seed of seeds) {
    try {
      await withProbe(seed, async (redis) => {
        await redis.cluster('INFO').catch((err: unknown) => {
          if (err instanceof Error && /cluster support disabled/i.test(err.message)) {
            throw Object.assign(new Error(`${seed} is not a cluster node (${err.message})`), {
              code: 'NOT_A_CLUSTER',
            });
          }
          throw err;
        });
      });
      return;
    } catch (err) {
      last = err;
    }
  }
  throw last;
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
  config: Pick<Config, 'redisUrl' | 'redisClusterNodes' | 'databaseUrl'>,
  stores: Store[] = ['redis', 'postgres'],
): Promise<void> {
  const seeds = (config.redisClusterNodes ?? []).map(
    (n) => `redis://${n.host.includes(':') ? `[${n.host}]` : n.host}:${n.port}`,
  );
  const where: Record<Store, string> = {
    redis: seeds.length ? seeds.join(',') : config.redisUrl,
    postgres: config.databaseUrl,
  };
  const checks: Record<Store, () => Promise<void>> = {
    redis: () => (seeds.length ? checkRedisCluster(seeds) : checkRedis(config.redisUrl)),
    postgres: () => checkPostgres(config.databaseUrl),
  };
  const results = await Promise.allSettled(stores.map((store) => checks[store]()));
  const lines = results.flatMap((result, i) =>
    result.status === 'rejected' ? [describeStoreFailure(stores[i]!, where[stores[i]!], result.reason)] : [],
  );
  if (lines.length) throw new StoreUnavailableError(lines.join('\n'));
}
