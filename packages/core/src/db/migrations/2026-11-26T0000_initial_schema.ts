import { type Kysely, sql } from 'kysely';

// Frozen once landed: change the schema with a new migration, never by editing this one.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('users')
    .addColumn('id', 'bigint', (c) => c.primaryKey().check(sql`id > 0`))
    .addColumn('balance', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('users_balance_range', sql`balance >= 0 AND balance <= 1000000000`)
    .execute();

  await db.schema
    .createTable('balance_ledger')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id'))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind IN ('CHARGE', 'PAYMENT', 'REFUND')`))
    .addColumn('amount', 'bigint', (c) => c.notNull().check(sql`amount > 0`))
    .addColumn('balance_before', 'bigint', (c) => c.notNull().check(sql`balance_before >= 0`))
    .addColumn('balance_after', 'bigint', (c) => c.notNull().check(sql`balance_after >= 0`))
    .addColumn('idempotency_key', 'text')
    .addColumn('payment_id', 'uuid')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    // Each row must explain the balance change it records.
    .addCheckConstraint(
      'balance_ledger_arithmetic',
      sql`balance_after = balance_before + CASE WHEN kind = 'PAYMENT' THEN -amount ELSE amount END`,
    )
    .execute();
  await db.schema
    .createIndex('balance_ledger_idempotency_key')
    .on('balance_ledger')
    .columns(['user_id', 'kind', 'idempotency_key'])
    .unique()
    .where(sql.ref('idempotency_key'), 'is not', null)
    .execute();
  await db.schema
    .createIndex('balance_ledger_payment')
    .on('balance_ledger')
    .columns(['payment_id', 'kind'])
    .unique()
    .where(sql.ref('payment_id'), 'is not', null)
    .execute();
  await db.schema
    .createIndex('balance_ledger_user')
    .on('balance_ledger')
    .columns(['user_id', 'created_at'])
    .execute();

  await db.schema
    .createTable('products')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedByDefaultAsIdentity())
    .addColumn('name', 'text', (c) => c.notNull().check(sql`char_length(name) BETWEEN 1 AND 200`))
    .addColumn('price', 'bigint', (c) => c.notNull().check(sql`price >= 0`))
    .addColumn('stock', 'bigint', (c) => c.notNull().check(sql`stock >= 0`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('coupons')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedByDefaultAsIdentity())
    .addColumn('name', 'text', (c) => c.notNull().check(sql`char_length(name) BETWEEN 1 AND 200`))
    .addColumn('discount_type', 'text', (c) => c.notNull().check(sql`discount_type IN ('FIXED', 'PERCENT')`))
    .addColumn('discount_value', 'integer', (c) => c.notNull().check(sql`discount_value > 0`))
    .addColumn('total_quantity', 'integer', (c) => c.notNull().check(sql`total_quantity > 0`))
    .addColumn('issue_starts_at', 'timestamptz')
    .addColumn('issue_ends_at', 'timestamptz')
    .addColumn('valid_days', 'integer', (c) => c.check(sql`valid_days > 0`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('coupons_percent_range', sql`discount_type <> 'PERCENT' OR discount_value <= 100`)
    .addCheckConstraint(
      'coupons_window_order',
      sql`issue_starts_at IS NULL OR issue_ends_at IS NULL OR issue_ends_at > issue_starts_at`,
    )
    .execute();

  // One row per (coupon, user): the last line of defence against issuing one coupon twice.
  await db.schema
    .createTable('issued_coupons')
    .addColumn('coupon_id', 'bigint', (c) => c.notNull().references('coupons.id'))
    .addColumn('user_id', 'bigint', (c) => c.notNull().check(sql`user_id > 0`))
    .addColumn('issued_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz')
    .addColumn('status', 'text', (c) =>
      c.notNull().defaultTo('AVAILABLE').check(sql`status IN ('AVAILABLE', 'USED')`),
    )
    .addColumn('used_order_id', 'uuid')
    .addColumn('used_at', 'timestamptz')
    .addPrimaryKeyConstraint('issued_coupons_pk', ['coupon_id', 'user_id'])
    .execute();
  await db.schema
    .createIndex('issued_coupons_user')
    .on('issued_coupons')
    .columns(['user_id', 'issued_at'])
    .execute();

  await db.schema
    .createTable('orders')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('user_id', 'bigint', (c) => c.notNull().check(sql`user_id > 0`))
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status IN ('PENDING_PAYMENT', 'PAID', 'EXPIRED', 'CANCELLED')`),
    )
    .addColumn('total_amount', 'bigint', (c) => c.notNull().check(sql`total_amount >= 0`))
    .addColumn('discount_amount', 'bigint', (c) => c.notNull().check(sql`discount_amount >= 0`))
    .addColumn('pay_amount', 'bigint', (c) => c.notNull().check(sql`pay_amount >= 0`))
    .addColumn('coupon_id', 'bigint', (c) => c.references('coupons.id'))
    .addColumn('idempotency_key', 'text')
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('paid_at', 'timestamptz')
    .addColumn('closed_at', 'timestamptz')
    .addCheckConstraint('orders_amounts', sql`pay_amount = total_amount - discount_amount`)
    .execute();
  await db.schema
    .createIndex('orders_user_newest')
    .on('orders')
    .columns(['user_id', 'created_at desc', 'id desc'])
    .execute();
  await db.schema
    .createIndex('orders_pending_expiry')
    .on('orders')
    .column('expires_at')
    .where(sql.ref('status'), '=', sql.lit('PENDING_PAYMENT'))
    .execute();
  // A coupon can back at most one open order at a time.
  await db.schema
    .createIndex('orders_one_pending_per_coupon')
    .on('orders')
    .columns(['user_id', 'coupon_id'])
    .unique()
    .where(sql<boolean>`status = 'PENDING_PAYMENT' AND coupon_id IS NOT NULL`)
    .execute();
  await db.schema
    .createIndex('orders_idempotency_key')
    .on('orders')
    .columns(['user_id', 'idempotency_key'])
    .unique()
    .where(sql.ref('idempotency_key'), 'is not', null)
    .execute();

  await db.schema
    .createTable('order_lines')
    .addColumn('order_id', 'uuid', (c) => c.notNull().references('orders.id').onDelete('cascade'))
    .addColumn('product_id', 'bigint', (c) => c.notNull().references('products.id'))
    .addColumn('quantity', 'integer', (c) => c.notNull().check(sql`quantity BETWEEN 1 AND 1000`))
    .addColumn('unit_price', 'bigint', (c) => c.notNull().check(sql`unit_price >= 0`))
    .addPrimaryKeyConstraint('order_lines_pk', ['order_id', 'product_id'])
    .execute();

  await db.schema
    .createTable('payments')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('order_id', 'uuid', (c) => c.notNull().unique().references('orders.id'))
    .addColumn('user_id', 'bigint', (c) => c.notNull())
    .addColumn('amount', 'bigint', (c) => c.notNull().check(sql`amount >= 0`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('sales')
    .addColumn('order_id', 'uuid', (c) => c.notNull().references('orders.id'))
    .addColumn('product_id', 'bigint', (c) => c.notNull().references('products.id'))
    .addColumn('quantity', 'integer', (c) => c.notNull().check(sql`quantity > 0`))
    .addColumn('sold_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('sales_pk', ['order_id', 'product_id'])
    .execute();
  await db.schema.createIndex('sales_sold_at').on('sales').columns(['sold_at', 'product_id']).execute();

  await db.schema
    .createTable('idempotency_keys')
    .addColumn('user_id', 'bigint', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull().check(sql`char_length(key) BETWEEN 1 AND 64`))
    .addColumn('request_hash', 'text', (c) => c.notNull())
    .addColumn('response', 'jsonb')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('idempotency_keys_pk', ['user_id', 'scope', 'key'])
    .execute();
  await db.schema
    .createIndex('idempotency_keys_created')
    .on('idempotency_keys')
    .column('created_at')
    .execute();

  await db.schema
    .createTable('outbox')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('topic', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('payload', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('published_at', 'timestamptz')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_error', 'text')
    .addUniqueConstraint('outbox_topic_key', ['topic', 'key'])
    .execute();
  await db.schema
    .createIndex('outbox_unpublished')
    .on('outbox')
    .column('id')
    .where(sql.ref('published_at'), 'is', null)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [
    'outbox',
    'idempotency_keys',
    'sales',
    'payments',
    'order_lines',
    'orders',
    'issued_coupons',
    'coupons',
    'products',
    'balance_ledger',
    'users',
  ]) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
