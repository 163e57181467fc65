import { type Kysely, sql } from 'kysely';
import type { CouponRow, Database, DiscountType, IssuedCouponStatus } from '../db/database.ts';

/** A pool or a transaction: callers choose whether a statement joins their transaction. */
type DbOrTrx = Kysely<Database>;

export type NewCoupon = {
  name: string;
  discount: { type: DiscountType; value: number };
  totalQuantity: number;
  issueStartsAt: Date | null;
  issueEndsAt: Date | null;
  validDays: number | null;
};

export async function insertCoupon(db: DbOrTrx, coupon: NewCoupon): Promise<CouponRow> {
  return db
    .insertInto('coupons')
    .values({
      name: coupon.name,
      discount_type: coupon.discount.type,
      discount_value: coupon.discount.value,
      total_quantity: coupon.totalQuantity,
      issue_starts_at: coupon.issueStartsAt,
      issue_ends_at: coupon.issueEndsAt,
      valid_days: coupon.validDays,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function findCouponRow(db: DbOrTrx, couponId: number): Promise<CouponRow | undefined> {
  return db.selectFrom('coupons').selectAll().where('id', '=', couponId).executeTakeFirst();
}

/** Ids of coupons whose Redis state may still exist: no end, or an end after `horizon`. */
export async function listLiveCouponIds(db: DbOrTrx, horizon: Date): Promise<number[]> {
  const rows = await db
    .selectFrom('coupons')
    .select('id')
    .where((eb) => eb.or([eb('issue_ends_at', 'is', null), eb('issue_ends_at', '>', horizon)]))
    .orderBy('id')
    .execute();
  return rows.map((r) => r.id);
}

export async function listCouponIdsAfter(db: DbOrTrx, afterId: number, limit: number): Promise<number[]> {
  const rows = await db
    .selectFrom('coupons')
    .select('id')
    .where('id', '>', afterId)
    .orderBy('id')
    .limit(limit)
    .execute();
  return rows.map((r) => r.id);
}

/**
 * Serialises a restore (or the revocation of an unreplicated issuance) against persistence
 * batches of the same coupon (advisory, transaction scoped). Under the exclusive lock no batch
 * is half-way: every row a batch inserted is committed and visible, and every issuance a batch
 * has not committed is still in `pending` (batches acknowledge only after their commit), so
 * Postgres rows plus `pending` are complete.
 */
export async function lockCouponForRestore(trx: DbOrTrx, couponId: number): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`coupon-issued:${couponId}`}, 0))`.execute(trx);
}

/** The shared side of `lockCouponForRestore`: persistence batches run in parallel with each other. */
export async function lockCouponForPersist(trx: DbOrTrx, couponId: number): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock_shared(hashtextextended(${`coupon-issued:${couponId}`}, 0))`.execute(
    trx,
  );
}

/** Every persisted issuance of a coupon, as the restore loads it into Redis. */
export async function listIssuedUsers(
  db: DbOrTrx,
  couponId: number,
): Promise<{ userId: number; issuedAtMs: number }[]> {
  const rows = await db
    .selectFrom('issued_coupons')
    .select(['user_id', 'issued_at'])
    .where('coupon_id', '=', couponId)
    .execute();
  return rows.map((r) => ({ userId: r.user_id, issuedAtMs: r.issued_at.getTime() }));
}

/**
 * Inserts a batch of issuances in one statement (arrays unnested server-side, so thousands of
 * rows cost one round trip and three parameters). Idempotent: a row that exists is left as it
 * is, which is what makes redelivered or overlapping batches harmless. Returns rows inserted.
 */
export async function insertIssuedBatch(
  db: DbOrTrx,
  batch: { couponId: number; validDays: number | null; userIds: number[]; issuedAtMs: number[] },
): Promise<number> {
  const result = await sql`
    INSERT INTO issued_coupons (coupon_id, user_id, issued_at, expires_at)
    SELECT ${batch.couponId}::bigint, u, at, at + make_interval(days => ${batch.validDays}::int)
    FROM (
      SELECT u, timestamptz 'epoch' + ms * interval '1 millisecond' AS at
      FROM unnest(${batch.userIds}::bigint[], ${batch.issuedAtMs}::bigint[]) AS t(u, ms)
    ) AS rows
    ON CONFLICT (coupon_id, user_id) DO NOTHING`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

/**
 * Makes sure an issuance has its Postgres row (for the payment transaction, which may use a
 * coupon the persistence worker has not written yet). Does nothing when the row exists.
 */
export async function ensureIssuedCouponRow(
  trx: DbOrTrx,
  row: { couponId: number; userId: number; issuedAt: Date; expiresAt: Date | null },
): Promise<void> {
  await trx
    .insertInto('issued_coupons')
    .values({
      coupon_id: row.couponId,
      user_id: row.userId,
      issued_at: row.issuedAt,
      expires_at: row.expiresAt,
    })
    .onConflict((oc) => oc.columns(['coupon_id', 'user_id']).doNothing())
    .execute();
}

export type UserCouponRow = {
  couponId: number;
  name: string;
  discountType: DiscountType;
  discountValue: number;
  validDays: number | null;
  /** null when the user has no row yet (a coupon that may hold an unpersisted issuance) */
  issuedAt: Date | null;
  expiresAt: Date | null;
  status: IssuedCouponStatus | null;
};

/**
 * In one round trip: the user's persisted coupons, plus every coupon whose Redis state may
 * still hold an issuance of theirs that is not persisted yet (live coupons without a row).
 */
export async function listUserCouponRows(
  db: DbOrTrx,
  userId: number,
  horizon: Date,
): Promise<UserCouponRow[]> {
  const held = db
    .selectFrom('issued_coupons as ic')
    .innerJoin('coupons as c', 'c.id', 'ic.coupon_id')
    .where('ic.user_id', '=', userId)
    .select((eb) => [
      'c.id as couponId',
      'c.name as name',
      'c.discount_type as discountType',
      'c.discount_value as discountValue',
      'c.valid_days as validDays',
      eb.ref('ic.issued_at').$castTo<Date | null>().as('issuedAt'),
      'ic.expires_at as expiresAt',
      eb.ref('ic.status').$castTo<IssuedCouponStatus | null>().as('status'),
    ]);
  const live = db
    .selectFrom('coupons as c')
    .where((eb) =>
      eb.and([
        eb.or([eb('c.issue_ends_at', 'is', null), eb('c.issue_ends_at', '>', horizon)]),
        eb.not(
          eb.exists(
            eb
              .selectFrom('issued_coupons as own')
              .select(sql.lit(1).as('one'))
              .whereRef('own.coupon_id', '=', 'c.id')
              .where('own.user_id', '=', userId),
          ),
        ),
      ]),
    )
    .select([
      'c.id as couponId',
      'c.name as name',
      'c.discount_type as discountType',
      'c.discount_value as discountValue',
      'c.valid_days as validDays',
      sql<Date | null>`NULL::timestamptz`.as('issuedAt'),
      sql<Date | null>`NULL::timestamptz`.as('expiresAt'),
      sql<IssuedCouponStatus | null>`NULL::text`.as('status'),
    ]);
  return held.unionAll(live).execute();
}

export type IssuedCouponWithCoupon = {
  name: string;
  discountType: DiscountType;
  discountValue: number;
  issuedAt: Date;
  expiresAt: Date | null;
  status: IssuedCouponStatus;
};

export async function findUserIssuedCoupon(
  db: DbOrTrx,
  userId: number,
  couponId: number,
): Promise<IssuedCouponWithCoupon | undefined> {
  return db
    .selectFrom('issued_coupons as ic')
    .innerJoin('coupons as c', 'c.id', 'ic.coupon_id')
    .where('ic.coupon_id', '=', couponId)
    .where('ic.user_id', '=', userId)
    .select([
      'c.name as name',
      'c.discount_type as discountType',
      'c.discount_value as discountValue',
      'ic.issued_at as issuedAt',
      'ic.expires_at as expiresAt',
      'ic.status as status',
    ])
    .executeTakeFirst();
}

/**
 * `coupon.list`'s page: coupons whose issue window has not ended at `now`, soonest to open first
 * (a window open from the start counts as the earliest), ties by id. The cursor is the last
 * coupon id of the previous page; the row comparison continues after its position.
 */
export async function listOpenCouponRows(
  db: DbOrTrx,
  page: { now: Date; cursor?: number; limit: number },
): Promise<CouponRow[]> {
  const opensAt = sql<Date>`coalesce(issue_starts_at, '-infinity'::timestamptz)`;
  let query = db
    .selectFrom('coupons')
    .selectAll()
    .where((eb) => eb.or([eb('issue_ends_at', 'is', null), eb('issue_ends_at', '>', page.now)]));
  if (page.cursor !== undefined) {
    const after = sql`(SELECT coalesce(issue_starts_at, '-infinity'::timestamptz), id FROM coupons WHERE id = ${page.cursor})`;
    query = query.where(sql<boolean>`(${opensAt}, id) > ${after}`);
  }
  return query.orderBy(opensAt).orderBy('id').limit(page.limit).execute();
}

/** Whether Postgres has this user's issuance of this coupon. */
export async function hasIssuedRow(db: DbOrTrx, couponId: number, userId: number): Promise<boolean> {
  const row = await db
    .selectFrom('issued_coupons')
    .select('user_id')
    .where('coupon_id', '=', couponId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return row !== undefined;
}

/** Issuances of a coupon recorded in Postgres (final once its window has closed and drained). */
export async function countIssuedRows(db: DbOrTrx, couponId: number): Promise<number> {
  const row = await db
    .selectFrom('issued_coupons')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('coupon_id', '=', couponId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
