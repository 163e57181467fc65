import { type Kysely, sql } from 'kysely';

// Frozen once landed: change the schema with a new migration, never by editing this one.

/**
 * Waiting rooms: the record of each room (what it guards, its rate, whether it is paused). The
 * queue itself (tickets, admission state) lives in Redis, one hash slot per room
 * (packages/core/src/waiting-room/); this row is what the guard's index and a restore read.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('waiting_rooms')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedByDefaultAsIdentity())
    .addColumn('name', 'text', (c) => c.notNull().check(sql`char_length(name) BETWEEN 1 AND 200`))
    .addColumn('coupon_ids', sql`bigint[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('product_ids', sql`bigint[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('admit_per_second', 'integer', (c) =>
      c.notNull().check(sql`admit_per_second BETWEEN 1 AND 100000`),
    )
    .addColumn('paused', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('opens_at', 'timestamptz')
    .addColumn('pass_ttl_seconds', 'integer', (c) =>
      c.notNull().check(sql`pass_ttl_seconds BETWEEN 60 AND 3600`),
    )
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint(
      'waiting_rooms_guards_something',
      sql`cardinality(coupon_ids) + cardinality(product_ids) > 0`,
    )
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('waiting_rooms').execute();
}
