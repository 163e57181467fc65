import { randomUUID } from 'node:crypto';
import type { OrderRow, OrderStatus } from '../db/database.ts';
import { AppError, AppErrorCode } from '../errors.ts';
import { findIdempotentResponse, requestHash } from '../idempotency/idempotency.service.ts';
import { readAvailable } from '../product/inventory.service.ts';
import { ensureInventoryLoaded, getProductsForOrder } from '../product/product.service.ts';
import { callerLimits, enforceRateLimit, rateLimitedError } from '../rate-limit/rate-limit.service.ts';
import type { Resources } from '../resources.ts';
import type { OrderBatcher } from './order.batch.ts';
import { ORDER_SCOPE } from './order.batch.ts';
import {
  encodeUnsavedOrder,
  ensureOrderSaved,
  requestOrderSave,
  saveUnsavedOrdersOf,
} from './order.persist.ts';
import { type Discount, priceOrder } from './order.pricing.ts';
import { usableCouponDiscount } from './order.quote.ts';
import {
  findOrderForUser,
  listOrdersForUser,
  type OrderLine,
  type OrderWithLines,
} from './order.repository.ts';
import { endHolds, holdOrder, type OrderLineInput } from './order.store.ts';

export type OrderView = {
  orderId: string;
  status: OrderStatus;
  totalAmount: number;
  discountAmount: number;
  payAmount: number;
  couponId: number | null;
  createdAt: string;
  expiresAt: string;
  items: OrderLine[];
};

export { decodeUnsavedOrder, findUnsavedOrdersOf, type UnsavedOrderRef } from './order.persist.ts';
// What the payment area and the reconciler use of orders: the row shapes, the orders still
// waiting in Redis, and their records.
export type { OrderLine, OrderWithLines } from './order.repository.ts';

export type CreateOrderInput = { items: OrderLineInput[]; couponId?: number; idempotencyKey?: string };

/** What order creation uses: its group commit and the resources and caches of the areas it asks. */
export type OrderRuntime = Pick<
  Resources,
  | 'config'
  | 'db'
  | 'redis'
  | 'keys'
  | 'replicaWaiter'
  | 'clock'
  | 'queues'
  | 'jobTriggers'
  | 'couponState'
  | 'orderState'
  | 'productState'
> & { orderBatcher: OrderBatcher };

/** What reading a caller's orders uses (their unsaved orders are saved first). */
type ReadRuntime = Pick<Resources, 'db' | 'redis' | 'keys'>;

export function toOrderView(order: OrderWithLines): OrderView {
  return {
    orderId: order.id,
    status: order.status,
    totalAmount: order.total_amount,
    discountAmount: order.discount_amount,
    payAmount: order.pay_amount,
    couponId: order.coupon_id,
    createdAt: order.created_at.toISOString(),
    expiresAt: order.expires_at.toISOString(),
    items: order.lines,
  };
}

/**
 * Creates an order in three steps, each safe to fail:
 * 1. Redis holds stock for every line or none (one Lua script per product, in the product's
 *    slot; a later line refused releases the earlier ones: holdOrder) — this is where the
 *    crowd is decided.
 * 2. Postgres saves the order, committed BEFORE we answer: an order that was answered survives
 *    any crash. The order joins a group commit (order.batch.ts): one transaction, one claim of
 *    the keys, one multi-row insert and one COMMIT for the orders that arrive together, each
 *    answered after that COMMIT (a repeat of a key waits for it and replays the answer). A coupon can back only one
 *    open order: the partial unique index `orders_one_pending_per_coupon` decides races, per row
 *    in a group (the loser answers COUPON_NOT_USABLE and its hold is released).
 * 3. If step 2 fails for a definite reason the hold is released now (for a group: every order
 *    in it gets the error and releases its hold); if the outcome is unknown (connection lost
 *    mid-commit) the hold is left for the orphan sweep, which releases it only once Postgres
 *    confirms the order does not exist — never oversell on a guess.
 * Either way the transaction holds the shared inventory lock from before the hold to the commit,
 * and a Redis that lost the inventory is rebuilt outside it (the rebuild waits for that lock).
 */
export async function createOrder(
  rt: OrderRuntime,
  userId: number,
  input: CreateOrderInput,
  caller?: { ip: string },
): Promise<OrderView> {
  // A one-line order counts against the caller's limits on its product (in the product's slot,
  // as coupon.issue's are per coupon): the rush (neither coupon nor key, answered from Redis)
  // in its hold script, other one-line orders first, against the same buckets. An order of
  // several products counts against the procedure's own buckets.
  const oneLine = input.items.length === 1;
  const strategy = orderStrategy(input);
  const fromRedis = strategy === answerFromRedis;
  const limits = caller ? callerLimits(rt, { userId, ip: caller.ip }) : undefined;
  const countCall = (on?: number) =>
    caller
      ? enforceRateLimit(rt, {
          procedure: 'order.create',
          userId,
          ip: caller.ip,
          ...(on === undefined ? {} : { limiter: rt.keys.stock(on).limiter }),
        })
      : undefined;
  if (!fromRedis) await countCall(oneLine ? input.items[0]!.productId : undefined);
  const request = { items: input.items, couponId: input.couponId ?? null };
  const idem = { userId, scope: ORDER_SCOPE, key: input.idempotencyKey, request };
  // A replay is found by the batch's claim (below), before any hold: no look of its own here.
  const claim =
    input.idempotencyKey === undefined
      ? undefined
      : { userId, key: input.idempotencyKey, hash: requestHash(request) };

  const products = await getProductsForOrder(
    rt,
    input.items.map((i) => i.productId),
  );
  // A made-up product has no slot of its own to count in: count that call against the
  // procedure's buckets too, so unknown ids (which cost Postgres a lookup) cannot multiply the
  // allowance.
  if (oneLine && !products.has(input.items[0]!.productId)) await countCall();
  const lines: OrderLine[] = input.items.map((item) => {
    const product = products.get(item.productId);
    if (!product) {
      throw new AppError(AppErrorCode.PRODUCT_NOT_FOUND, `Product ${item.productId} not found`, {
        productId: item.productId,
      });
    }
    return { productId: item.productId, quantity: item.quantity, unitPrice: product.price };
  });

  // Sold out is a refusal Redis already knows: answered before any Postgres work (the coupon
  // checks, a batch). Not for a keyed call, which may be the replay of an order that got the
  // stock, nor for the rush, whose hold script refuses in its one round trip anyway. The hold
  // stays the authority; this refuses only what it would refuse right now.
  if (!fromRedis && input.idempotencyKey === undefined) await refuseIfSoldOut(rt, lines);

  const now = rt.clock.now();
  let discount: Discount | undefined;
  if (input.couponId !== undefined) {
    try {
      discount = await usableCouponDiscount(rt, userId, input.couponId, now);
    } catch (err) {
      // The open order holding the coupon may be this key's own, committed by a call with the
      // same key since the look above (a retry racing the first try): that one is the answer.
      const key = input.idempotencyKey;
      if (key === undefined || !(err instanceof AppError) || err.code !== AppErrorCode.COUPON_NOT_USABLE)
        throw err;
      const prior = await findIdempotentResponse(rt.db, { ...idem, key });
      if (prior) return prior.response as OrderView;
      throw err;
    }
  }
  const priced = priceOrder(lines, discount);
  const orderId = randomUUID();
  const row: OrderRow = {
    id: orderId,
    user_id: userId,
    status: 'PENDING_PAYMENT',
    total_amount: priced.totalAmount,
    discount_amount: priced.discountAmount,
    pay_amount: priced.payAmount,
    coupon_id: input.couponId ?? null,
    idempotency_key: input.idempotencyKey ?? null,
    created_at: now,
    expires_at: new Date(now.getTime() + rt.config.orderHoldSeconds * 1000),
    paid_at: null,
    closed_at: null,
  };

  const order: PlacedOrder = {
    orderId,
    userId,
    now,
    lines,
    row,
    limits,
    claim,
    couponId: input.couponId,
    held: false,
  };
  try {
    try {
      return await strategy(rt, order);
    } catch (err) {
      if (!(err instanceof InventoryNotLoaded)) throw err;
      // Loaded outside the order's transaction: the load waits for open order transactions.
      await ensureInventoryLoaded(
        rt,
        lines.map((l) => l.productId),
      );
      return await strategy(rt, order);
    }
  } catch (err) {
    throw await orderFailure(rt, order, err);
  }
}

/** An order being placed: what a strategy holds, records and answers. */
type PlacedOrder = {
  orderId: string;
  userId: number;
  now: Date;
  lines: OrderLine[];
  row: OrderRow;
  limits: ReturnType<typeof callerLimits> | undefined;
  claim: { userId: number; key: string; hash: string } | undefined;
  couponId: number | undefined;
  /** Set once its stock is held and its outcome is Postgres' (group-committed orders). */
  held: boolean;
};

/** How an order is held, recorded and answered; chosen by its shape (orderStrategy). */
type OrderStrategy = (rt: OrderRuntime, order: PlacedOrder) => Promise<OrderView>;

/**
 * The strategy for an order: `answerFromRedis` for one product with neither coupon nor key (the
 * rush on a hot product), `groupCommit` for everything else. From before the hold to the commit
 * the order's transaction (for a group commit) holds the shared inventory lock, so a rebuild
 * after Redis lost its data waits for it (see lockInventoryForHold).
 */
export function orderStrategy(input: CreateOrderInput): OrderStrategy {
  return input.items.length === 1 && input.idempotencyKey === undefined && input.couponId === undefined
    ? answerFromRedis
    : groupCommit;
}

function viewOf(order: PlacedOrder): OrderView {
  return toOrderView({ ...order.row, lines: [...order.lines].sort((a, b) => a.productId - b.productId) });
}

/**
 * One product, neither key nor coupon (the rush on a hot product): the hold stores the order in
 * Redis in the same atomic step (counting the call against the caller's limits on the product)
 * and the order is answered; it is saved in Postgres moments later (order.persist.ts). Nothing
 * else needs Postgres to decide it.
 */
async function answerFromRedis(rt: OrderRuntime, order: PlacedOrder): Promise<OrderView> {
  await holdOrFail(rt, order.orderId, order.now, order.lines, {
    record: { userId: order.userId, json: encodeUnsavedOrder(order.row, order.lines) },
    limits: order.limits,
  });
  requestOrderSave(rt);
  return viewOf(order);
}

/**
 * A coupon, several products or a key: the coupon's one open order is decided by Postgres'
 * unique index, and an order whose holds span several slots is answered once it is committed
 * (its holds cannot be stored with the order in one atomic step), so it joins a group commit
 * (order.batch.ts), whose transaction took the lock. A key is claimed by the batch before the
 * hold, for the whole batch in one statement: a second call with the same key waits for the
 * first one's COMMIT and replays its answer, instead of competing for stock with the call it
 * repeats.
 */
async function groupCommit(rt: OrderRuntime, order: PlacedOrder): Promise<OrderView> {
  const ticket = await rt.orderBatcher.join(order.claim);
  if ('replay' in ticket) return ticket.replay as OrderView;
  try {
    await holdOrFail(rt, order.orderId, order.now, order.lines);
  } catch (err) {
    // Leave before anything waits for a rebuild: the rebuild waits for this batch.
    ticket.leave();
    throw err;
  }
  order.held = true;
  if ((await ticket.submit(order.row, order.lines, order.claim && viewOf(order))) === 'coupon-taken') {
    throw couponTaken(order.couponId!);
  }
  return viewOf(order);
}

/**
 * The error a failed placement answers. A hold whose order certainly did not commit is released
 * now; after an unknown outcome (connection lost mid-commit) it is left for the orphan sweep,
 * which releases it only once Postgres confirms the order does not exist.
 */
async function orderFailure(rt: OrderRuntime, order: PlacedOrder, err: unknown): Promise<unknown> {
  if (err instanceof InventoryNotLoaded) {
    return new AppError(AppErrorCode.UNAVAILABLE, 'Inventory is being rebuilt, please retry');
  }
  if (order.held && isDefiniteRollback(err)) {
    await endHolds(
      rt.redis,
      rt.keys,
      order.orderId,
      order.lines.map((l) => l.productId),
      'release',
    ).catch(() => {});
  }
  if (isUniqueViolation(err, 'orders_idempotency_key')) {
    // The key's record was purged (kept 24 h) but an order still carries it.
    return new AppError(
      AppErrorCode.IDEMPOTENCY_KEY_REUSED,
      'Idempotency key was already used for another order',
    );
  }
  if (isUniqueViolation(err, 'orders_one_pending_per_coupon')) return couponTaken(order.couponId!);
  return err;
}

async function refuseIfSoldOut(rt: Pick<Resources, 'redis' | 'keys'>, lines: OrderLine[]): Promise<void> {
  const wanted = new Map<number, number>();
  for (const l of lines) wanted.set(l.productId, (wanted.get(l.productId) ?? 0) + l.quantity);
  const ids = [...wanted.keys()];
  // Only a shortcut: if Redis cannot answer, the order goes on and meets the same error where
  // it always did.
  const available = await readAvailable(rt.redis, rt.keys, ids).catch(() => []);
  for (const [i, productId] of ids.entries()) {
    const units = available[i];
    if (units !== undefined && units < wanted.get(productId)!) throw outOfStock(productId);
  }
}

function outOfStock(productId: number): AppError {
  return new AppError(AppErrorCode.OUT_OF_STOCK, `Product ${productId} is out of stock`, { productId });
}

function couponTaken(couponId: number): AppError {
  return new AppError(AppErrorCode.COUPON_NOT_USABLE, 'Coupon is already used by another open order', {
    couponId,
  });
}

/** Redis lost a product's stock; thrown out of the order's transaction so it can be loaded. */
class InventoryNotLoaded extends Error {}

async function holdOrFail(
  rt: Pick<Resources, 'redis' | 'keys' | 'replicaWaiter' | 'orderState'>,
  orderId: string,
  now: Date,
  lines: OrderLineInput[],
  fromRedis?: Pick<Parameters<typeof holdOrder>[2], 'record' | 'limits'>,
): Promise<void> {
  const reply = await holdOrder(rt.redis, rt.keys, {
    listedAt: rt.orderState.listedAt,
    orderId,
    nowMs: now.getTime(),
    lines,
    ...fromRedis,
    wait: rt.replicaWaiter,
  });
  switch (reply.code) {
    case 'OK':
      return;
    case 'UNREPLICATED':
      // holdOrder gave the holds back (an order it stored in Redis is kept and expires unpaid).
      throw new AppError(
        AppErrorCode.UNAVAILABLE,
        'No Redis replica confirmed the stock hold in time, please retry',
      );
    case 'NOT_LOADED':
      throw new InventoryNotLoaded();
    case 'RATE_LIMITED':
      throw rateLimitedError(reply.limit, reply.retryAfterMs);
    case 'OUT_OF_STOCK':
      throw outOfStock(reply.productId);
  }
}

/**
 * A paid order's holds become sold (the units leave the holds for good), exactly once per
 * product: for the payment's step after its COMMIT. The hold sweep does the same for a payment
 * whose process died before it.
 */
export function commitOrderHolds(
  rt: Pick<Resources, 'redis' | 'keys'>,
  order: { id: string; lines: { productId: number }[] },
): Promise<number> {
  return endHolds(
    rt.redis,
    rt.keys,
    order.id,
    order.lines.map((l) => l.productId),
    'commit',
  );
}

/** Errors after which Postgres certainly did not commit (as opposed to a lost connection). */
function isDefiniteRollback(err: unknown): boolean {
  if (err instanceof AppError) return err.code !== AppErrorCode.UNAVAILABLE;
  const code = (err as { code?: unknown }).code;
  // SQLSTATE classes 22 (data), 23 (constraint), 40 (rollback), 42 (syntax/access).
  return typeof code === 'string' && /^(22|23|40|42)/.test(code);
}

function isUniqueViolation(err: unknown, constraint: string): boolean {
  const e = err as { code?: unknown; constraint?: unknown };
  return e.code === '23505' && e.constraint === constraint;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Order ids are UUIDs; anything else names no order (and must not reach Postgres as a uuid). */
export function isOrderId(value: string): boolean {
  return UUID.test(value);
}

export async function getOrder(rt: ReadRuntime, userId: number, orderId: string): Promise<OrderView> {
  if (!isOrderId(orderId)) throw new AppError(AppErrorCode.ORDER_NOT_FOUND, 'Order not found');
  let order = await findOrderForUser(rt.db, userId, orderId);
  // Not in Postgres yet: maybe answered from Redis moments ago (read-your-writes).
  if (!order && (await ensureOrderSaved(rt, userId, orderId)))
    order = await findOrderForUser(rt.db, userId, orderId);
  if (!order) throw new AppError(AppErrorCode.ORDER_NOT_FOUND, 'Order not found');
  return toOrderView(order);
}

export async function listOrders(
  rt: ReadRuntime,
  userId: number,
  page: { cursor?: string; limit: number },
): Promise<{ items: OrderView[]; nextCursor: string | null }> {
  if (page.cursor !== undefined && !isOrderId(page.cursor)) return { items: [], nextCursor: null };
  // Orders answered from Redis are listed once saved: save the caller's unsaved ones (a few at
  // most, whatever the worker's backlog) rather than merge two sources into one keyset page.
  await saveUnsavedOrdersOf(rt, userId);
  const orders = await listOrdersForUser(rt.db, userId, page);
  const items = orders.map(toOrderView);
  return { items, nextCursor: items.length === page.limit ? items[items.length - 1]!.orderId : null };
}
