// An isolated place for one load-test or benchmark run: a freshly migrated database, its own
// Redis key prefix and a random JWT secret, so a run never touches `pnpm start`'s data or
// another run's, and leaves nothing behind.
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
  /** Environment for the API, the worker and the bench servers (children share it). */
  env: NodeJS.ProcessEnv;
  cleanup(): Promise<void>;
};

function databaseUrlFor(base: string, name: string): string {
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Creates a fresh database and key prefix for a run named `kind` (bench, loadtest). */
export async function createRunEnv(kind: string, overrides: Record<string, string> = {}): Promise<RunEnv> {
  const id = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const base = loadConfig();
  const databaseUrl = databaseUrlFor(base.databaseUrl, `flash_${kind}_${id}`);
  await ensureDatabase(databaseUrl);
  const db = createDb(databaseUrl, { max: 1 });
  try {
    await migrateToLatest(db);
  } finally {
    await db.destroy();
  }
  const vars: Record<string, string> = {
    // Production mode: no stack traces in answers and a real secret, as operators run it.
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    DATABASE_URL: databaseUrl,
    REDIS_KEY_PREFIX: `${kind}:${id}:`,
    AUTH_JWT_SECRET: randomBytes(32).toString('hex'),
    // All the load comes from one address (127.0.0.1). The per-address limit stays on, so its
    // cost is measured, but high enough never to refuse; per-user limits keep their defaults.
    RATE_LIMIT_IP_PER_SEC: '1000000',
    RATE_LIMIT_IP_BURST: '10000000',
    ...overrides,
  };
  const env = { ...process.env, ...vars };
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
