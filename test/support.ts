// Shared helpers for integration tests: an isolated database and Redis key prefix per test
// file, a runtime or API server on top of them, and token minting.
import { randomBytes } from 'node:crypto';
import { buildServer } from '@flash/api';
import {
  type Clock,
  type Config,
  createRuntime,
  loadConfig,
  masters,
  type RedisClient,
  type Runtime,
  signToken,
} from '@flash/core';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { inject } from 'vitest';
import { databaseUrlFor, deleteRedisKeys } from './global-setup.ts';

export type TestEnv = {
  config: Config;
  /** Environment for child processes (API or worker) that must share this file's database and prefix. */
  childEnv: NodeJS.ProcessEnv;
  cleanup(): Promise<void>;
};

async function cloneTemplate(name: string): Promise<void> {
  const template = new URL(inject('templateDatabaseUrl')).pathname.slice(1);
  const admin = new pg.Client({ connectionString: databaseUrlFor('postgres') });
  await admin.connect();
  try {
    // Parallel clones of one template can collide ("being accessed by other users"): retry.
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(
          `CREATE DATABASE ${pg.escapeIdentifier(name)} TEMPLATE ${pg.escapeIdentifier(template)}`,
        );
        return;
      } catch (err) {
        if (attempt >= 20 || (err as { code?: string }).code !== '55006') throw err;
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
      }
    }
  } finally {
    await admin.end();
  }
}

/** A fresh database and Redis key prefix for one test file. */
export async function createTestEnv(overrides: Record<string, string> = {}): Promise<TestEnv> {
  const runId = inject('runId');
  const id = randomBytes(4).toString('hex');
  const dbName = `flash_test_${runId}_${id}`;
  await cloneTemplate(dbName);
  const prefix = `t:${runId}:${id}:`;
  const vars = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    DATABASE_URL: databaseUrlFor(dbName),
    REDIS_KEY_PREFIX: prefix,
    ...overrides,
  };
  const base = { ...process.env };
  // A file that brings its own Redis (a private server it restarts, flushes or cuts off) means
  // that one, also under `pnpm test:cluster`: REDIS_CLUSTER_NODES would otherwise take
  // precedence and send its FLUSHALL to a node of the shared test cluster.
  if (overrides.REDIS_URL !== undefined) delete base.REDIS_CLUSTER_NODES;
  const config = loadConfig({ ...base, ...vars });
  return {
    config,
    childEnv: { ...base, ...vars },
    async cleanup() {
      await deleteRedisKeys(`${prefix}*`);
    },
  };
}

export type TestRuntime = TestEnv & { rt: Runtime };

export async function createTestRuntime(
  options: { clock?: Clock; overrides?: Record<string, string> } = {},
): Promise<TestRuntime> {
  const env = await createTestEnv(options.overrides);
  const rt = await createRuntime(env.config, { clock: options.clock, name: 'flash-sale-test' });
  return {
    ...env,
    rt,
    async cleanup() {
      await rt.close();
      await env.cleanup();
    },
  };
}

export type TestServer = TestRuntime & {
  app: FastifyInstance;
  token(userId: number, options?: { admin?: boolean }): Promise<string>;
};

/** The API in-process (use `app.inject()`, or `app.listen({ port: 0 })` for real HTTP). */
export async function createTestServer(
  options: { clock?: Clock; overrides?: Record<string, string> } = {},
): Promise<TestServer> {
  const env = await createTestRuntime(options);
  const app = await buildServer(env.config, { runtime: env.rt, logger: false });
  await app.ready();
  return {
    ...env,
    app,
    token: (userId, opts) => signToken(env.config.jwtSecret, userId, opts),
    async cleanup() {
      await app.close();
      await env.cleanup();
    },
  };
}

/** Calls a procedure over `app.inject()` the way an HTTP client would; returns status and parsed body. */
export async function call(
  app: FastifyInstance,
  kind: 'query' | 'mutation',
  path: string,
  input?: unknown,
  token?: string,
): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const res =
    kind === 'query'
      ? await app.inject({
          method: 'GET',
          url: `/trpc/${path}${input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`}`,
          headers,
        })
      : await app.inject({
          method: 'POST',
          url: `/trpc/${path}`,
          headers: { ...headers, 'content-type': 'application/json' },
          payload: input === undefined ? '' : JSON.stringify(input),
        });
  return { status: res.statusCode, body: res.json() };
}

/**
 * Every key matching `pattern`, on one Redis or on every master of a cluster (a SCAN through the
 * cluster client would read one random node only).
 */
export async function scanKeys(redis: RedisClient, pattern: string): Promise<string[]> {
  const found: string[] = [];
  for (const node of masters(redis)) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      found.push(...batch);
    } while (cursor !== '0');
  }
  return found;
}
