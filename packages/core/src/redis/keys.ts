/**
 * Every Redis key the service uses is built here. Keys a Lua script touches together share
 * one hash tag (`{...}`), so each script stays in one Redis Cluster slot.
 *
 * Stock is one slot per product (`{stock:<id>}`): orders for different products run on
 * different cluster masters. A one-line order is one script in its product's slot; a
 * multi-line order holds its lines one product at a time and releases them if a later line is
 * refused (docs/adr/0200-stock-sharded-by-product.md).
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
    /** One product's live stock and the holds on it, all in the product's slot. */
    stock: (productId: number) => {
      const tag = `${prefix}{stock:${productId}}`;
      return {
        /**
         * Units that can be ordered now (committed stock minus open holds). Absent = not loaded
         * (a new product before its entry, or a master that lost its data): every script fails
         * closed on it and the caller loads the product from Postgres, so a loss never reads as
         * "0 available" nor lets an increment invent a count.
         */
        available: `${tag}:available`,
        /** Hash: orderId -> units of this product the order holds (present while it is unpaid). */
        holds: `${tag}:holds`,
        /** Sorted set orderId -> ms the hold was taken; finds holds whose order never reached Postgres. */
        holdStarted: `${tag}:hold-started`,
        /**
         * Hash: orderId -> JSON record of a one-line order answered from Redis and not yet saved
         * in Postgres (order.persist.ts saves it and deletes the field). Written by the hold itself.
         */
        unsaved: `${tag}:unsaved`,
        /**
         * Hash: the ids of one user's orders in this product's `unsaved` (-> 1; written by the hold
         * with the record, removed with it), so reading a user's orders saves that user's unsaved
         * orders only. A hash because a small one is a listpack, cheaper for the hold to create
         * than a set of strings (a hashtable in Redis 7.0).
         */
        unsavedOf: (userId: number) => `${tag}:unsaved-of:${userId}`,
        /**
         * GCRA state of `order.create`'s rate limit for one caller (`u:<userId>` or
         * `ip:<address>`) on this product: in the product's slot, so the one-line hold counts the
         * call in the same step (as coupon.issue's limiter is per coupon).
         */
        limiter: (subject: string) => `${tag}:rl:${subject}`,
      };
    },
    /**
     * Sorted set productId -> ms it was last registered: the products whose slot may hold state
     * Postgres does not know yet (unsaved orders, holds not yet matched to a saved order). A
     * hold registers its product before it is answered (at most every few seconds per
     * process); the worker's drain, the orphan sweep and a user's order reads look only at
     * these products, and a product leaves only once idle and empty (order.store.ts,
     * forgetIdleProduct-1.lua).
     */
    activeProducts: `${prefix}{stock-index}:active`,
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
     * in each coupon's slot instead, `coupon(id).limiter`, and a one-line order.create's in its
     * product's, `stock(id).limiter`, so the script that decides the call counts it too.)
     */
    rateLimit: (procedure: string, subject: string) => `${prefix}{rl:${procedure}}:${subject}`,
    /**
     * One waiting room, all in the room's slot (waiting-room.store.ts): the join, the status and
     * an admin's change are each one script on these keys.
     */
    waitingRoom: (roomId: number) => {
      const tag = `${prefix}{wr:${roomId}}`;
      return {
        /**
         * Hash: the room's admission state (`n` tickets handed out, `a`/`t` admission credit and
         * when it was taken, `r` rate, `p` paused, `o` opensAt, `ttl` pass lifetime), its public
         * fields (`name`, `c` coupon ids, `pp` product ids), and one field per shopper: the user
         * id (decimal) -> `ticket` or `ticket:passExpiresAtMs` once admitted. One field per
         * shopper is all waiting costs (docs/adr/0400-waiting-room.md). `j:<ticket>` holds the
         * join time (ms) of every WR_JOIN_MARK-th ticket, for the oldest-wait metric.
         */
        room: tag,
        /** GCRA state of `waitingRoom.join`'s rate limit for one caller, in the room's slot. */
        limiter: (subject: string) => `${tag}:rl:${subject}`,
      };
    },
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
