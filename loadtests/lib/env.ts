// An isolated place for one load-test or benchmark run: a freshly migrated database, its own
// Redis key prefix and a random JWT secret, all removed by `cleanup`.
import { randomBytes } from 'node:crypto';
import {
  type Config,
  createDb,
  deleteKeysIn,
  dropDatabase,
  ensureDatabase,
  loadConfig,
  migrateToLatest,
} from '@flash/core';

export type RunEnv = {
  id: string;
  config: Config;
  /** Environment for the API, the worker and the bench servers. */
  env: NodeJS.ProcessEnv;
  cleanup(): Promise<void>;
};

/** A fresh database and key prefix for a run named `kind` (bench, loadtest). */
export async function createRunEnv(kind: string, overrides: Record<string, string> = {}): Promise<RunEnv> {
  const id = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const url = new URL(loadConfig().databaseUrl);
  url.pathname = `/flash_${kind}_${id}`;
  const databaseUrl = url.toString();
  await ensureDatabase(databaseUrl);
  const db = createDb(databaseUrl, { max: 1 });
  try {
    await migrateToLatest(db);
  } finally {
    await db.destroy();
  }
  const env = {
    ...process.env,
    // Production mode: no stack traces in answers and a real secret, as operators run it.
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    DATABASE_URL: databaseUrl,
    REDIS_KEY_PREFIX: `${kind}:${id}:`,
    AUTH_JWT_SECRET: randomBytes(32).toString('hex'),
    // All the load comes from 127.0.0.1: the per-address limit stays on (its cost is measured)
    // but never refuses; per-user limits keep their defaults.
    RATE_LIMIT_IP_PER_SEC: '1000000',
    RATE_LIMIT_IP_BURST: '10000000',
    ...overrides,
  };
  const config = loadConfig(env);
  return {
    id,
    config,
    env,
    async cleanup() {
      await deleteKeysIn(config, `${config.redisKeyPrefix}*`);
      await dropDatabase(databaseUrl);
    },
  };
}
