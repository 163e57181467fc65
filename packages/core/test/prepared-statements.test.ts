import { sql, type Transaction } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../../../test/support.ts';
import { createDb, type Db } from '../src/db/client.ts';
import type { Database } from '../src/db/database.ts';
import { prepareStatements, statementName } from '../src/db/prepared-statements.ts';

type Prepared = { name: string; statement: string };

/** The statements prepared on the connection the query runs on (Postgres lists its own session's). */
const preparedOn = async (db: Db | Transaction<Database>) =>
  (await sql<Prepared>`SELECT name, statement FROM pg_prepared_statements ORDER BY name`.execute(db)).rows;

describe('prepared statements', () => {
  let env: TestEnv;
  let db: Db;
  beforeAll(async () => {
    env = await createTestEnv();
    db = createDb(env.config.databaseUrl, { max: 2 });
  });
  afterAll(async () => {
    await db.destroy();
    await env.cleanup();
  });

  it('runs each parameterized statement as one named prepared statement per connection, with the right rows every time', async () => {
    await db.transaction().execute(async (trx) => {
      const byId = (id: number) => trx.selectFrom('users').select('id').where('id', '=', id).compile();
      await trx
        .insertInto('users')
        .values([{ id: 901 }, { id: 902 }])
        .execute();
      const first = await trx.executeQuery(byId(901));
      const second = await trx.executeQuery(byId(902));
      const none = await trx.executeQuery(byId(903));
      expect(first.rows).toEqual([{ id: 901 }]);
      expect(second.rows).toEqual([{ id: 902 }]);
      expect(none.rows).toEqual([]);

      const text = byId(0).sql;
      const prepared = await preparedOn(trx);
      // One statement for the three lookups, named after its text; BEGIN and this listing
      // (no parameters) are not prepared.
      expect(prepared.filter((p) => p.statement === text)).toEqual([
        { name: statementName(text), statement: text },
      ]);
      expect(prepared.map((p) => p.statement).filter((s) => /^\s*(begin|select name)/i.test(s))).toEqual([]);
    });
  });

  it('prepares at most `limit` statements on a connection and runs the rest unnamed', async () => {
    const client = new pg.Client({ connectionString: env.config.databaseUrl });
    await client.connect();
    try {
      prepareStatements(client, 2);
      const texts = ['SELECT $1::int + 1 AS n', 'SELECT $1::int + 2 AS n', 'SELECT $1::int + 3 AS n'];
      for (const [i, text] of texts.entries()) {
        expect((await client.query(text, [10])).rows).toEqual([{ n: 11 + i }]);
        // Again: a prepared one is reused, the unnamed one parsed anew; both answer right.
        expect((await client.query(text, [20])).rows).toEqual([{ n: 21 + i }]);
      }
      const prepared = await client.query<Prepared>(
        'SELECT name, statement FROM pg_prepared_statements ORDER BY statement',
      );
      expect(prepared.rows).toEqual(
        texts.slice(0, 2).map((statement) => ({ name: statementName(statement), statement })),
      );
    } finally {
      await client.end();
    }
  });

  it('a statement that fails to prepare fails its call only, and works once fixed', async () => {
    const client = new pg.Client({ connectionString: env.config.databaseUrl });
    await client.connect();
    try {
      prepareStatements(client);
      await expect(client.query('SELECT $1::int FROM no_such_table', [1])).rejects.toMatchObject({
        code: '42P01',
      });
      await expect(client.query('SELECT $1::int FROM no_such_table', [1])).rejects.toMatchObject({
        code: '42P01',
      });
      expect((await client.query('SELECT $1::int AS n', [7])).rows).toEqual([{ n: 7 }]);
    } finally {
      await client.end();
    }
  });
});
