import { z } from 'zod';
import { QueueName } from '../queue/queues.ts';
import { throttledAdd } from '../queue/throttled-add.ts';
import type { Resources } from '../resources.ts';
import { findCouponCached } from './coupon.cache.ts';
import { liveHorizon } from './coupon.model.ts';
import {
  findCouponRow,
  hasIssuedRow,
  insertIssuedBatch,
  listLiveCouponIds,
  lockCouponForPersist,
  lockCouponForRestore,
} from './coupon.repository.ts';
import type { DrainResult } from './coupon.state.ts';
import { ackPending, havePending, readPending, runRevokeIssuance } from './coupon.store.ts';

export type { DrainResult } from './coupon.state.ts';

/**
 * Persistence of issuances: `coupon.issue` answers from Redis, and these functions move what it
 * recorded in each coupon's `pending` stream into Postgres, in batches:
 *   XRANGE pending (oldest N) -> one INSERT .. ON CONFLICT DO NOTHING -> XDEL exactly those ids.
 * Every step is safe to repeat: a batch re-read after a crash (inserted, not yet deleted) is
 * inserted again as a no-op and then deleted, so each issuance ends as exactly one row and
 * the stream empties (and is deleted) however often a job runs or dies.
 */

/** Job names on the coupon-persist queue. */
export const CouponPersistJob = {
  /** Drain one coupon's pending stream; added (deduplicated) by the API after each issue. */
  Drain: 'drain',
  /** Drain every coupon that has pending entries; repeats every second (catches missed triggers). */
  Sweep: 'sweep',
} as const;

export const ZCouponDrainJob = z.object({ couponId: z.number().int().positive() });
export type TCouponDrainJob = z.infer<typeof ZCouponDrainJob>;

/** Rows per INSERT. Large batches are what make persistence fast (one round trip per batch). */
export const DRAIN_BATCH_SIZE = 5_000;
/** A drain stops after this many batches (the next trigger or sweep continues), so a job stays bounded. */
const MAX_BATCHES_PER_DRAIN = 200;

type PersistRuntime = Pick<Resources, 'db' | 'redis' | 'keys' | 'couponState'>;

/**
 * Moves a coupon's pending issuances into Postgres until none are left. Drains running in this
 * process are kept per runtime and coupon (couponState.drains): a second request for the same
 * coupon joins the running drain (which makes one more pass for it) instead of racing it over
 * the same entries. Drains in other processes may still overlap; that is only wasted work.
 */
export function drainCouponPending(
  rt: PersistRuntime,
  couponId: number,
  options: { batchSize?: number } = {},
): Promise<DrainResult> {
  const drains = rt.couponState.drains;
  const current = drains.get(couponId);
  if (current) {
    current.again = true;
    return current.promise;
  }
  const state = { promise: Promise.resolve({ batches: 0, persisted: 0, inserted: 0 }), again: false };
  state.promise = (async () => {
    const total: DrainResult = { batches: 0, persisted: 0, inserted: 0 };
    try {
      do {
        state.again = false;
        const pass = await drainPasses(rt, couponId, options.batchSize ?? DRAIN_BATCH_SIZE);
        total.batches += pass.batches;
        total.persisted += pass.persisted;
        total.inserted += pass.inserted;
      } while (state.again);
      return total;
    } finally {
      drains.delete(couponId);
    }
  })();
  drains.set(couponId, state);
  return state.promise;
}

async function drainPasses(rt: PersistRuntime, couponId: number, batchSize: number): Promise<DrainResult> {
  const keys = rt.keys.coupon(couponId);
  const result: DrainResult = { batches: 0, persisted: 0, inserted: 0 };
  let validDays: number | null | undefined;
  while (result.batches < MAX_BATCHES_PER_DRAIN) {
    const batch = await rt.db.transaction().execute(async (trx) => {
      // Read under the lock: a restore holds its exclusive side while it counts Postgres rows
      // plus `pending`. Entries read before it (from a Redis that then lost its data) and
      // inserted after it would be counted by neither, and Redis would issue their places again.
      await lockCouponForPersist(trx, couponId);
      const entries = await readPending(rt.redis, keys, batchSize);
      if (entries.length === 0) return { entries, inserted: 0 };
      if (validDays === undefined) {
        // Rows never change; fall back to Postgres when the cache remembers the id as unknown.
        const coupon = (await findCouponCached(rt, couponId)) ?? (await findCouponRow(trx, couponId));
        if (!coupon) throw new Error(`coupon ${couponId} has pending issuances but no row in Postgres`);
        validDays = coupon.valid_days;
      }
      const inserted = await insertIssuedBatch(trx, {
        couponId,
        validDays,
        userIds: entries.map((e) => e.userId),
        issuedAtMs: entries.map((e) => e.issuedAtMs),
      });
      return { entries, inserted };
    });
    const { entries } = batch;
    if (entries.length === 0) break;
    // Only after the commit: an entry leaves Redis once its row is certainly in Postgres.
    await ackPending(
      rt.redis,
      keys,
      entries.map((e) => e.id),
    );
    result.batches += 1;
    result.persisted += entries.length;
    result.inserted += batch.inserted;
    if (entries.length < batchSize) break;
  }
  return result;
}

/**
 * Drains every coupon whose `pending` stream exists. Candidates are the coupons whose Redis
 * state may exist (see COUPON_REDIS_RETENTION_MS), checked with one pipelined EXISTS.
 */
export async function sweepCouponPending(
  rt: PersistRuntime & Pick<Resources, 'clock'>,
): Promise<{ coupons: number; persisted: number }> {
  const ids = await listLiveCouponIds(rt.db, liveHorizon(rt.clock.now().getTime()));
  const pending = await havePending(
    rt.redis,
    ids.map((id) => rt.keys.coupon(id)),
  );
  let coupons = 0;
  let persisted = 0;
  for (const [i, id] of ids.entries()) {
    if (!pending[i]) continue;
    coupons += 1;
    persisted += (await drainCouponPending(rt, id)).persisted;
  }
  return { coupons, persisted };
}

/**
 * Takes back an issuance that was answered UNAVAILABLE because the replicas did not acknowledge
 * it in time (REDIS_WAIT_REPLICAS), so that the answer and the final state agree: `revoked`
 * (the place is free again, a retry can issue), or `kept` when it can no longer be taken back:
 * it is in Postgres already (a batch persisted it meanwhile), or its `pending` entry is gone.
 * A kept issuance is the user's; a retry answers COUPON_ALREADY_ISSUED and coupon.mine lists it.
 *
 * Under the coupon's exclusive persist lock no batch is half-way, so "no row in Postgres and the
 * entry still pending" cannot change before the revocation runs: a batch either committed the
 * row before (seen here, kept) or reads `pending` after (the entry is gone).
 */
export async function revokeUnreplicatedIssuance(
  rt: Pick<Resources, 'db' | 'redis' | 'keys'>,
  couponId: number,
  issuance: { userId: number; issuedAtMs: number; pendingId: string },
): Promise<'revoked' | 'kept'> {
  return rt.db.transaction().execute(async (trx) => {
    await lockCouponForRestore(trx, couponId);
    if (await hasIssuedRow(trx, couponId, issuance.userId)) return 'kept';
    return (await runRevokeIssuance(rt.redis, rt.keys.coupon(couponId), issuance)) ? 'revoked' : 'kept';
  });
}

/** At most one drain job is added per coupon and process in this interval (plus one trailing add). */
const DRAIN_TRIGGER_INTERVAL_MS = 100;

/**
 * Asks the worker to drain a coupon soon. Called after every issue but never awaited by it:
 * adds are throttled per coupon (throttled-add.ts) and deduplicated in BullMQ (one waiting job
 * per coupon, plus one queued behind an active one). A lost trigger only delays persistence
 * until the sweep.
 */
export function requestCouponDrain(rt: Pick<Resources, 'queues' | 'jobTriggers'>, couponId: number): void {
  throttledAdd(rt.jobTriggers, `coupon-drain:${couponId}`, DRAIN_TRIGGER_INTERVAL_MS, () =>
    addDrainJob(rt, couponId),
  );
}

function addDrainJob(rt: Pick<Resources, 'queues'>, couponId: number): Promise<unknown> {
  const data: TCouponDrainJob = { couponId };
  return rt.queues[QueueName.CouponPersist].add(CouponPersistJob.Drain, data, {
    deduplication: { id: `coupon-drain:${couponId}`, keepLastIfActive: true },
  });
}
