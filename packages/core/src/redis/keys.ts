/**
 * Every Redis key the service uses is built here. Keys a Lua script touches together share
 * one hash tag (`{...}`), so each script stays in one Redis Cluster slot.
 *
 * Inventory is one slot on purpose: `order.create` must hold stock for every line of a
 * multi-line order or for none, atomically, and a Lua script can only do that when all the
 * products' counters live in one slot. The price is that stock holds cannot be spread over
 * several cluster nodes; one Redis core runs far more hold scripts per second than a sale
 * needs, while coupons (the flash-crowd path) get one slot each and spread freely.
 */
export type Keys = ReturnType<typeof createKeys>;

export function createKeys(prefix: string) {
  return {
    prefix,
    coupon: (couponId: number) => {
      const tag = `${prefix}{coupon:${couponId}}`;
      return {
        /** Hash: total, startsAt, endsAt (ms epoch, 0 = open), validDays. Absent = not loaded. */
        meta: `${tag}:meta`,
        /** Hash: userId -> issuedAt (ms). Its size is the number issued. */
        issued: `${tag}:issued`,
        /** Stream of issuances not yet persisted to Postgres; entries are deleted once persisted. */
        pending: `${tag}:pending`,
        /**
         * GCRA state of `coupon.issue`'s rate limit for one caller (`u:<userId>` or `ip:<address>`)
         * on this coupon: in the coupon's slot, so the issue script checks it in the same step.
         */
        limiter: (subject: string) => `${tag}:rl:${subject}`,
      };
    },
    inventory: {
      /** Hash: productId -> units that can be ordered now (committed stock minus open holds). */
      available: `${prefix}{inventory}:available`,
      /** Hash: orderId -> JSON of the lines it holds (present while the order is unpaid). */
      holds: `${prefix}{inventory}:holds`,
      /** Marker that `available` was loaded from Postgres (absent after a Redis flush = fail closed). */
      loaded: `${prefix}{inventory}:loaded`,
      /** Sorted set orderId -> ms the hold was taken; finds holds whose order never reached Postgres. */
      holdStarted: `${prefix}{inventory}:hold-started`,
      /**
       * Hash: orderId -> JSON record of an order answered from Redis and not yet saved in
       * Postgres (order.persist.ts saves it and deletes the field). Written by the hold itself.
       */
      unsaved: `${prefix}{inventory}:unsaved`,
      /**
       * Hash: the ids of one user's orders in `unsaved` (-> 1; written by the hold with the
       * record, removed with it), so reading a user's orders saves that user's unsaved orders
       * only. A hash because a small one is a listpack, cheaper for the hold to create than a
       * set of strings (a hashtable in Redis 7.0); one sorted set of `<userId>:<orderId>` for
       * everyone cost the hold more still.
       */
      unsavedOf: (userId: number) => `${prefix}{inventory}:unsaved-of:${userId}`,
    },
    ranking: {
      /** Sorted set productId -> units sold in that UTC hour (`yyyymmddhh`); expires days after the hour. */
      hour: (yyyymmddhh: string) => `${prefix}{ranking}:sold:${yyyymmddhh}`,
      /** Cached merge of the last 72 hours (JSON with the time it was computed); lives about a second. */
      top: `${prefix}{ranking}:top`,
      /** Scratch sorted set the merge script unions the hourly buckets into (deleted by the same script). */
      merge: `${prefix}{ranking}:merge`,
      /** Marker that the hourly buckets were loaded from Postgres (absent after a Redis flush = rebuild). */
      loaded: `${prefix}{ranking}:loaded`,
    },
    /**
     * GCRA state of one rate limit (see rate-limit.store.ts) for one (procedure, subject);
     * `subject` is `u:<userId>` or `ip:<address>` and never contains braces. A procedure's
     * limiters share one hash tag, so a caller's user and address limits are checked in one
     * script call; the slot's load is that procedure's call rate. (coupon.issue's limiters live
     * in each coupon's slot instead: `coupon(id).limiter`; order.create's in the `{inventory}`
     * slot, so the hold script counts the call in the same step: holdStock-8.lua.)
     */
    rateLimit: (procedure: string, subject: string) =>
      procedure === 'order.create'
        ? `${prefix}{inventory}:rl:${subject}`
        : `${prefix}{rl:${procedure}}:${subject}`,
    /** BullMQ takes its own prefix (it must not share ioredis' keyPrefix). */
    bullPrefix: `${prefix}bull`,
    /**
     * A queue's BullMQ prefix. On a cluster each queue's prefix is its own hash tag (BullMQ's
     * scripts span a queue's keys; one tag per queue spreads the queues over the masters). On
     * one Redis the plain prefix stays, so jobs queued before an upgrade are still found.
     */
    bullPrefixOf: (queue: string, cluster: boolean) =>
      cluster ? `{${prefix}bull:${queue}}` : `${prefix}bull`,
  };
}
