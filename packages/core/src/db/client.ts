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
  /**
   * How long the caller of one statement waits at most (see DEFAULT_QUERY_DEADLINE_MS). Tools
   * that scan whole tables or change the schema pass a longer one.
   */
  queryDeadlineMillis?: number;
  applicationName?: string;
};

/**
 * Every statement of a request must answer within this, so a caller waits about this long, never
 * more, for Postgres to say anything. Postgres itself cancels a statement that runs longer
 * (`statement_timeout`: the connection stays usable); a Postgres that does not answer at all (a
 * partition dropping packets, a frozen host) is caught by the client a little later, which
 * closes that connection, because an answer may still arrive on it and a pooled connection
 * must not carry one. Either way the caller gets UNAVAILABLE.
 */
export const DEFAULT_QUERY_DEADLINE_MS = 3_000;
/** For tools (migrations, rebuilds, reconcile) whose statements scan whole tables. */
export const TOOL_QUERY_DEADLINE_MS = 5 * 60_000;
/** Postgres cancels this much before the client gives up, so a slow but alive server cancels first. */
const SERVER_DEADLINE_LEAD_MS = 500;

/** The error a statement past its deadline ends with; `ETIMEDOUT` makes it UNAVAILABLE (errors.ts). */
function deadlineError(deadlineMillis: number, cause: unknown): Error {
  return Object.assign(new Error(`Postgres did not answer within ${deadlineMillis} ms`, { cause }), {
    code: 'ETIMEDOUT',
  });
}

/**
 * Makes a pooled connection that missed the client deadline close itself (pg's `end()` drops
 * the socket of a connection with a query in flight), and refuse further statements at once,
 * so a transaction's ROLLBACK does not wait a second deadline; the pool removes an ended
 * client when it is released.
 */
function closeOnDeadline(client: pg.PoolClient, deadlineMillis: number): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  let expired: Error | undefined;
  const guarded = (...args: unknown[]) => {
    if (expired) return Promise.reject(deadlineError(deadlineMillis, expired));
    const result = query(...args);
    if (!(result instanceof Promise)) return result;
    return result.catch((err: unknown) => {
      // pg's message for query_timeout; it has no code.
      if (!expired && err instanceof Error && err.message === 'Query read timeout') {
        expired = err;
        client.end().catch(() => {});
        throw deadlineError(deadlineMillis, err);
      }
      throw err;
    });
  };
  client.query = guarded as typeof client.query;
}

export function createDb(databaseUrl: string, options: DbOptions = {}): Db {
  const deadline = options.queryDeadlineMillis ?? DEFAULT_QUERY_DEADLINE_MS;
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.max ?? DEFAULT_DB_POOL_SIZE,
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 2000,
    idleTimeoutMillis: 30_000,
    application_name: options.applicationName ?? 'flash-sale',
    statement_timeout: Math.max(1, deadline - SERVER_DEADLINE_LEAD_MS),
    query_timeout: deadline,
  });
  // An idle client losing its connection (Postgres restart) must not crash the process.
  pool.on('error', () => {});
  // Nor may a checked-out one: pg emits 'error' on the client besides failing its query, and the
  // pool listens only while the client is idle. The query's error reaches the caller (as
  // UNAVAILABLE), and the pool drops the dead client when it is released.
  pool.on('connect', (client) => {
    client.on('error', () => {});
    prepareStatements(client);
    closeOnDeadline(client, deadline);
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
