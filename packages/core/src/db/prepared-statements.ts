import { createHash } from 'node:crypto';
import type pg from 'pg';

/**
 * Statements one connection keeps prepared, at most. Postgres keeps each one's plan in the
 * backend until the connection closes; the service's hot statements are a few dozen, and the
 * cap bounds what statements of varying text (multi-row inserts of each size) can add.
 */
export const MAX_PREPARED_PER_CONNECTION = 256;

/** A stable name for a statement's text (Postgres names are at most 63 bytes). */
export function statementName(text: string): string {
  return `s${createHash('sha1').update(text).digest('hex')}`;
}

type Query = (config: unknown, values?: unknown, callback?: unknown) => unknown;

/**
 * Makes a pooled connection run every statement that has parameters (all of Kysely's) as a
 * named prepared statement: Postgres parses and plans it once per connection instead of on
 * every call. `pnpm bench` measured the payment transaction's Postgres CPU at 717 µs instead
 * of 1,073–1,107 µs per payment, and payment.pay at 1,110–1,123 req/s instead of 889–917
 * (docs/benchmarks.md). Statements without parameters (BEGIN, COMMIT, scripts) go as they are.
 * Past the cap a connection runs new statements unnamed, as before.
 *
 * A statement is prepared against the schema of its first call; the migrations run before the
 * service starts, so no plan outlives the schema it was made for.
 */
export function prepareStatements(client: pg.ClientBase, limit = MAX_PREPARED_PER_CONNECTION): void {
  const query = client.query.bind(client) as Query;
  const prepared = new Set<string>();
  const preparing: Query = (config, values, callback) => {
    if (typeof config === 'string' && Array.isArray(values) && values.length > 0) {
      const name = statementName(config);
      if (prepared.has(name) || prepared.size < limit) {
        prepared.add(name);
        return query({ name, text: config, values }, callback);
      }
    }
    return query(config, values, callback);
  };
  client.query = preparing as typeof client.query;
}
