import { type Kysely, sql } from 'kysely';

// Frozen once landed: change the schema with a new migration, never by editing this one.

/** An optional picture per product (admin.product.create's `imageUrl`); existing rows have none. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('products')
    .addColumn('image_url', 'text', (c) => c.check(sql`char_length(image_url) <= 2048`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('products').dropColumn('image_url').execute();
}
