import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../../../test/support.ts';
import { createDb, type Db } from '../src/db/client.ts';
import { AppErrorCode, toAppError } from '../src/errors.ts';

/**
 * The statement deadline against a Postgres that answers but is slow: Postgres cancels the
 * statement, the caller gets UNAVAILABLE, and the connection stays in use. (A Postgres that
 * does not answer at all: apps/api/test/faults-postgres-blackhole.test.ts.)
 */
describe('statement deadline', () => {
  let env: TestEnv;
  let db: Db;
  beforeAll(async () => {
    env = await createTestEnv();
    db = createDb(env.config.databaseUrl, { max: 1, queryDeadlineMillis: 1_000 });
  });
  afterAll(async () => {
    await db.destroy();
    await env.cleanup();
  });

  it('cancels a statement past the deadline as UNAVAILABLE and keeps the connection', async () => {
    const pid = async () =>
      (await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(db)).rows[0]!.pid;
    const before = await pid();
    const err = await sql`SELECT pg_sleep(10)`.execute(db).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: '57014' });
    expect(toAppError(err)?.code).toBe(AppErrorCode.UNAVAILABLE);
    // Cancelled by Postgres, so the same connection (one in this pool) answers the next statement.
    expect(await pid()).toBe(before);
  });
});
