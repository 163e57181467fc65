// Creates a migrated template database for this test run; each test file clones it (see
// support.ts). Teardown drops every database and Redis key the run created.
import { randomBytes } from 'node:crypto';
import {
  checkStores,
  createDb,
  deleteKeysIn,
  dropDatabase,
  ensureDatabase,
  loadConfig,
  migrateToLatest,
  StoreUnavailableError,
  TOOL_QUERY_DEADLINE_MS,
} from '@flash/core';
import pg from 'pg';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    runId: string;
    templateDatabaseUrl: string;
  }
}

export function databaseUrlFor(name: string): string {
  const url = new URL(loadConfig().databaseUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Removes this run's keys (or one file's) from the shared Redis. */
export function deleteRedisKeys(pattern: string): Promise<void> {
  return deleteKeysIn(loadConfig(), pattern);
}

export default async function setup(project: TestProject) {
  try {
    await checkStores(loadConfig());
  } catch (err) {
    if (!(err instanceof StoreUnavailableError)) throw err;
    // The tests need both stores: say which is missing and how to start it, one line each.
    console.error(err.message);
    process.exit(1);
  }
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const templateDatabaseUrl = databaseUrlFor(`flash_test_${runId}`);
  await ensureDatabase(templateDatabaseUrl);
  const db = createDb(templateDatabaseUrl, { max: 1, queryDeadlineMillis: TOOL_QUERY_DEADLINE_MS });
  await migrateToLatest(db);
  await db.destroy();
  project.provide('runId', runId);
  project.provide('templateDatabaseUrl', templateDatabaseUrl);

  return async () => {
    const admin = new pg.Client({ connectionString: databaseUrlFor('postgres') });
    await admin.connect();
    const { rows } = await admin.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE $1`,
      [`flash_test_${runId}%`],
    );
    await admin.end();
    for (const { datname } of rows) await dropDatabase(databaseUrlFor(datname));
    await deleteRedisKeys(`t:${runId}:*`);
  };
}
