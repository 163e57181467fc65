import { createHash } from 'node:crypto';
import type pg from 'pg';

/**
 * Statements one connection keeps prepared, at most. Postgres keeps each one with its plan
 * until the connection closes (its size is measured in ADR 0004), so the cap bounds a
 * backend's share of memory. The code
 * has about 110 query sites, most of one fixed text; the cap leaves room for them and stops
 * texts that vary (an `IN` list of each length) from growing without end.
 */
export const MAX_PREPARED_PER_CONNECTION = 128;

/** A stable name for a statement's text (Postgres names are at most 63 bytes). */
export function statementName(text: string): string {
  return `s${createHash('sha1').update(text).digest('hex')}`;
}

type Query = (config: unknown, values?: unknown, callback?: unknown) => unknown;

/**
 * Makes a pooled connection run every statement that has parameters (all of Kysely's) as a
 * named prepared statement: Postgres parses and plans it once per connection instead of on
 * every call, which is most of a payment's Postgres CPU (gain and command: ADR 0004).
 * Statements without parameters (BEGIN, COMMIT, scripts) go as they are.
 * Past the cap a connection runs new statements unnamed, as before.
 *
 * A statement is prepared against the schema of its first call; the migrations run before the
 * service starts, so no plan outlives the schema it was made for.
 */
export function prepareStatements(client: pg.ClientBase, limit = MAX_PREPARED_PER_CONNECTION): void {
  const query = client.query.bind(client) as Query;
  // Text -> name of the statements prepared on this connection: each text is hashed once, not
  // on every call (Kysely builds a new string per call, so the text itself is the key).
  const names = new Map<string, string>();
  const preparing: Query = (config, values, callback) => {
    if (typeof config === 'string' && Array.isArray(values) && values.length > 0) {
      let name = names.get(config);
      if (name === undefined && names.size < limit) {
        name = statementName(config);
        names.set(config, name);
      }
      if (name !== undefined) return query({ name, text: config, values }, callback);
    }
    return query(config, values, callback);
  };
  client.query = preparing as typeof client.query;
}
