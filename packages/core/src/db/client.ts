import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './database.ts';
import { prepareStatements } from './prepared-statements.ts';

// int8 (bigint, COUNT(*)) as a JS number: ids and KRW amounts are bounded far below 2^53 by
// CHECK constraints, and numbers keep every repository free of string conversions.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export type Db = Kysely<Database>;

/** Connections per process unless the caller asks for another number. */
export const DEFAULT_DB_POOL_SIZE = 20;

export type DbOptions = {
  /** Pool size; Postgres does the locking, so a modest pool per process is enough. */
  max?: number;
  /** How long a query waits for a free connection before failing (so a down DB fails fast). */
  connectionTimeoutMillis?: number;
  applicationName?: string;
};

export function createDb(databaseUrl: string, options: DbOptions = {}): Db {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.max ?? DEFAULT_DB_POOL_SIZE,
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 2000,
    idleTimeoutMillis: 30_000,
    application_name: options.applicationName ?? 'flash-sale',
    // A statement that runs longer than this is a bug or an outage; fail it instead of hanging a request.
    statement_timeout: 10_000,
  });
  // An idle client losing its connection (Postgres restart) must not crash the process.
  pool.on('error', () => {});
  // Nor may a checked-out one: pg emits 'error' on the client besides failing its query, and the
  // pool listens only while the client is idle. The query's error reaches the caller (as
  // UNAVAILABLE), and the pool drops the dead client when it is released.
  pool.on('connect', (client) => {
    client.on('error', () => {});
    prepareStatements(client);
  });
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

/** Creates the database named in the URL when it does not exist yet (connects to `postgres`). */
export async function ensureDatabase(databaseUrl: string): Promise<boolean> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!name) throw new Error('DATABASE_URL names no database');
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) return false;
    try {
      await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    } catch (err) {
      // Another process created it between our check and our CREATE.
      if ((err as { code?: string }).code !== '42P04') throw err;
      return false;
    }
    return true;
  } finally {
    await client.end();
  }
}

/** Drops a database (used by test teardown); terminates its connections first. */
export async function dropDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
