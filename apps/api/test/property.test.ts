// Property-based tests: random and hostile inputs thrown at every procedure of the router, in
// production mode, through the real HTTP binding (app.inject; malformed requests over a real
// socket, through Node's HTTP parser). Whatever arrives: never a 5xx,
// never a stack trace or internal path in the answer, the contract's error shape, and no state
// change (Postgres rows, Redis keys) when the call is refused.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AppErrorCode, drainUnsavedOrders, QueueName, signToken } from '@flash/core';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { call, createTestServer, scanKeys, type TestServer } from '../../../test/support.ts';
import { appRouter } from '../src/trpc/root.ts';

/** Runs per property; the totals are printed at the end (and asserted to be substantial). */
const HOSTILE_RUNS = 400;
const SHAPED_RUNS = 120;
const BATCH_RUNS = 300;
const RAW_RUNS = 400;
/**
 * Hundreds of calls, each followed by a snapshot of every table and key: a loaded machine takes
 * minutes where an idle one takes seconds, and a property cut off by its timeout keeps calling
 * in the background, changing the state the next tests compare.
 */
const PROPERTY_TIMEOUT_MS = 240_000;

const SECRET = 'property-test-secret-0123456789abcdef0123';
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const APP_CODES = new Set<string>(Object.values(AppErrorCode));

let s: TestServer;
const tally = { requests: 0, calls: 0 };

// ---------------------------------------------------------------- fixtures
type Fixtures = {
  tokens: { user: string; other: string; admin: string; fresh: string[] };
  products: number[];
  /** Stock 0 and never restocked here: every order for it is refused. */
  soldOut: number;
  coupons: number[];
  /** The fuzzing user's pending order and another user's order (never payable by the fuzzer). */
  userOrder: string;
  otherOrder: string;
  /** A waiting room guarding a product of its own (so the other fixtures stay unguarded). */
  room: number;
};
let fx: Fixtures;

const USER = 10;
const OTHER = 11;

async function ok(kind: 'query' | 'mutation', path: string, input: unknown, token?: string) {
  const res = await call(s.app, kind, path, input, token);
  if (res.status !== 200) throw new Error(`${path} failed: ${JSON.stringify(res.body)}`);
  return res.body.result.data;
}

async function setUp(): Promise<Fixtures> {
  const admin = await signToken(SECRET, 1, { admin: true });
  const user = await signToken(SECRET, USER);
  const other = await signToken(SECRET, OTHER);
  const fresh = await Promise.all(Array.from({ length: 8 }, (_, i) => signToken(SECRET, 100 + i)));
  const products: number[] = [];
  for (const [price, stock] of [
    [1_000, 1_000_000],
    [25_000, 50],
    [99_000, 0],
  ] as const) {
    products.push(
      (await ok('mutation', 'admin.product.create', { name: `p${price}`, price, stock }, admin)).id,
    );
  }
  const soldOut = (await ok('mutation', 'admin.product.create', { name: 'gone', price: 1, stock: 0 }, admin))
    .id;
  const coupons: number[] = [];
  for (const discount of [
    { type: 'FIXED', value: 500 },
    { type: 'PERCENT', value: 10 },
  ]) {
    coupons.push(
      (await ok('mutation', 'admin.coupon.create', { name: 'c', discount, totalQuantity: 1_000_000 }, admin))
        .couponId,
    );
  }
  await ok('mutation', 'balance.charge', { amount: 5_000_000 }, user);
  await ok('mutation', 'balance.charge', { amount: 5_000_000 }, other);
  // Warm every cache a refused call could otherwise fill (coupon and inventory state, ranking).
  await ok('mutation', 'coupon.issue', { couponId: coupons[0] }, user);
  await ok('mutation', 'coupon.issue', { couponId: coupons[1] }, other);
  for (const productId of products) await ok('query', 'product.get', { productId }, user);
  await ok('query', 'product.top', undefined);
  const userOrder = (
    await ok('mutation', 'order.create', { items: [{ productId: products[0], quantity: 1 }] }, user)
  ).orderId;
  const paid = await ok(
    'mutation',
    'order.create',
    { items: [{ productId: products[0], quantity: 2 }] },
    user,
  );
  await ok('mutation', 'payment.pay', { orderId: paid.orderId }, user);
  const otherOrder = (
    await ok('mutation', 'order.create', { items: [{ productId: products[1], quantity: 1 }] }, other)
  ).orderId;
  await ok('query', 'product.top', undefined);
  // Orders answered from Redis are saved in Postgres by the worker, or by the first read that
  // needs them: save them now, as the worker would, so a later read finds nothing left to save
  // (after their save job's trailing add).
  await jobAddsDone();
  await drainUnsavedOrders(s.rt);
  const guarded = (
    await ok('mutation', 'admin.product.create', { name: 'guarded', price: 1, stock: 10 }, admin)
  ).id;
  const room = (
    await ok(
      'mutation',
      'admin.waitingRoom.create',
      { name: 'room', productIds: [guarded], admitPerSecond: 10 },
      admin,
    )
  ).roomId;
  await ok('query', 'waitingRoom.get', { roomId: room });
  return { tokens: { user, other, admin, fresh }, products, soldOut, coupons, userOrder, otherOrder, room };
}

// ---------------------------------------------------------------- state snapshots
let tables: string[] = [];
let pool: pg.Pool;
let snapshotSql = '';

/** Keys that change without any call: rate-limit counters (they count attempts, refused ones
 * too; coupon.issue's live in the coupon's slot as `{coupon:<id>}:rl:…`), BullMQ's
 * de-duplication markers (they expire on their own), and a waiting room's hash `{wr:<id>}`:
 * admission is a function of the clock, and whichever call reads the room first after time has
 * passed records how far it has got (ADR 0400), a read included. */
const VOLATILE = ['{rl:', '}:rl:', ':de:'];
const isRoomHash = (key: string) => /\{wr:\d+\}$/.test(key);

/**
 * Every row of every table (hashed per table) and every Redis key of this file's prefix (its
 * DUMP), except the volatile keys above and the ranking's one-second cache.
 */
async function snapshot(): Promise<Record<string, string | null>> {
  const { redis, keys } = s.rt;
  const { rows } = await pool.query(snapshotSql);
  const state: Record<string, string | null> = { ...rows[0] };
  const found = await scanKeys(redis, `${keys.prefix}*`);
  const watched = found
    .filter((k) => !VOLATILE.some((v) => k.includes(v)) && !isRoomHash(k) && k !== keys.ranking.top)
    .sort();
  // One DUMP per key, not one pipeline: on a cluster a pipeline may only name keys of one slot.
  const dumps = await Promise.all(watched.map((k) => redis.dumpBuffer(k)));
  watched.forEach((k, i) => {
    const value = dumps[i];
    state[`redis:${k}`] = value ? value.toString('base64') : null;
  });
  return state;
}

// ---------------------------------------------------------------- background work
/**
 * The only background work of the in-process API: job adds that calls start and never await (a
 * coupon's drain, an order save, the outbox export), throttled per process (throttled-add.ts)
 * so that a burst's last add is a trailing one, due at most this long after the call.
 */
const ADD_INTERVAL_MS = 100;
const addsInFlight = new Set<Promise<unknown>>();
/** When the last add started: a trailing add can only be due within ADD_INTERVAL_MS of it. */
let lastAddAt = 0;

/** Counts every job add of the server's queues while it is in flight. */
function trackJobAdds(): void {
  for (const name of Object.values(QueueName)) {
    const queue = s.rt.queues[name];
    const add = queue.add.bind(queue);
    vi.spyOn(queue, 'add').mockImplementation((...args) => {
      lastAddAt = Date.now();
      const added = add(...args);
      addsInFlight.add(added);
      const done = () => addsInFlight.delete(added);
      added.then(done, done);
      return added;
    });
  }
}

/**
 * Resolves once every job add that earlier calls started has landed in Redis. A trailing add
 * is scheduled only within ADD_INTERVAL_MS of the add before it (throttled-add.ts), and Node
 * fires timers in the order they are due: once a timer due after that has fired, every such add
 * has started and is tracked. With no add for that long, there is nothing to wait for.
 */
async function jobAddsDone(): Promise<void> {
  for (;;) {
    const quietAt = lastAddAt + ADD_INTERVAL_MS + 20;
    if (Date.now() < quietAt) await new Promise((r) => setTimeout(r, quietAt - Date.now()));
    while (addsInFlight.size > 0) await Promise.allSettled([...addsInFlight]);
    if (Date.now() >= lastAddAt + ADD_INTERVAL_MS + 20) return;
  }
}

/** The state once the background work started by earlier calls has landed. */
async function settledSnapshot(): Promise<Record<string, string | null>> {
  await jobAddsDone();
  return snapshot();
}

/** Names what differs, so a failure says which table or key a refused call touched. */
function expectSameState(
  after: Record<string, string | null>,
  before: Record<string, string | null>,
  label = '',
) {
  const names = new Set([...Object.keys(before), ...Object.keys(after)]);
  const changed = [...names].filter((n) => before[n] !== after[n]).sort();
  expect(changed, `state changed ${label}`).toEqual([]);
}

// ---------------------------------------------------------------- calling and checking
type Answer = { status: number; body: any; text: string };

/** Sends raw JSON text (so keys like "__proto__" arrive as sent) the way a client would. */
async function send(
  kind: 'query' | 'mutation',
  path: string,
  json: string | undefined,
  token?: string,
): Promise<Answer> {
  tally.requests++;
  tally.calls += path.includes(',') ? path.split(',').length : 1;
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const res =
    kind === 'query'
      ? await s.app.inject({
          method: 'GET',
          url: `/trpc/${path}${json === undefined ? '' : `?input=${encodeURIComponent(json)}`}`,
          headers,
        })
      : await s.app.inject({
          method: 'POST',
          url: `/trpc/${path}`,
          headers: { ...headers, 'content-type': 'application/json' },
          payload: json ?? '',
        });
  let body: unknown;
  try {
    body = JSON.parse(res.body);
  } catch {
    body = undefined;
  }
  return { status: res.statusCode, body, text: res.body };
}

let server: { host: string; port: number } | undefined;

/**
 * Sends a request over a real socket: through Node's HTTP parser and Fastify's content-type
 * and body-size checks, as a client's request goes (app.inject skips the parser, so malformed
 * requests would not mean what they say). A fresh connection each, as a server may close one
 * after refusing its request.
 */
async function overHttp(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<Answer> {
  if (!server) {
    await s.app.listen({ port: 0, host: '127.0.0.1' });
    const { address, port } = s.app.server.address() as AddressInfo;
    server = { host: address, port };
  }
  const { host, port } = server;
  // Explicit: Node's client sends a DELETE's body without a length, which the server must then
  // read as the start of a second request.
  const length = body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) };
  return new Promise((resolve, reject) => {
    const options = { host, port, method, path, headers: { ...headers, ...length }, agent: false };
    const req = http.request(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        resolve({ status: res.statusCode!, body: parsed, text });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const LEAK = /\n\s+at |node_modules|\/work\/|\.ts:\d+|password|postgres:\/\//i;

/** No `stack` property anywhere, and no string that looks like a stack frame or an internal path. */
function expectNoInternals(value: unknown, where = 'body'): void {
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) expectNoInternals(v, `${where}[${i}]`);
  } else if (value && typeof value === 'object') {
    expect(Object.hasOwn(value, 'stack'), `${where} has a stack`).toBe(false);
    for (const [k, v] of Object.entries(value)) expectNoInternals(v, `${where}.${k}`);
  } else if (typeof value === 'string') {
    // Only the error message may echo the caller's own input; everything else must be clean.
    if (!where.endsWith('.message')) expect(LEAK.test(value), `${where}: ${value.slice(0, 200)}`).toBe(false);
  }
}

/** One tRPC answer (alone or inside a batch): either a result, or an error in the contract's shape. */
function expectWellFormed(answer: any, status: number): void {
  expect(answer && typeof answer === 'object').toBe(true);
  if ('result' in answer) return;
  const data = answer.error?.data;
  expect(typeof answer.error.message).toBe('string');
  // Every refusal under /trpc has an appCode of the contract, transport-level ones included (no
  // such procedure, wrong method, body not JSON or too large).
  expect(APP_CODES.has(data?.appCode), `appCode ${data?.appCode} (${data?.code})`).toBe(true);
  expect(data.httpStatus).toBeGreaterThanOrEqual(400);
  expect(data.httpStatus).toBeLessThan(500);
  if (status !== 207) expect(data.httpStatus).toBe(status);
}

function check(res: Answer, options: { refused?: boolean } = {}): void {
  expect(res.status, res.text.slice(0, 500)).toBeLessThan(500);
  expect(res.body, `not JSON: ${res.text.slice(0, 200)}`).toBeDefined();
  expectNoInternals(res.body);
  if (Array.isArray(res.body)) {
    for (const answer of res.body) expectWellFormed(answer, res.status);
  } else if (typeof res.body?.error === 'object' || (res.body && 'result' in res.body)) {
    expectWellFormed(res.body, res.status);
  } else {
    // Fastify's own answers (body too large, unsupported media type): still 4xx and clean.
    expect(res.status).toBeGreaterThanOrEqual(400);
  }
  if (options.refused) expect(res.status, res.text.slice(0, 500)).toBeGreaterThanOrEqual(400);
}

// ---------------------------------------------------------------- arbitraries
/** Adds a key as an own enumerable property, so "__proto__" is sent as a key, not as a prototype. */
function withKey(object: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  const copy: Record<string, unknown> = Object.create(null);
  for (const [k, v] of Object.entries(object)) copy[k] = v;
  Object.defineProperty(copy, key, { value, enumerable: true, writable: true, configurable: true });
  return copy;
}
function without(object: Record<string, unknown>, key: string): Record<string, unknown> {
  const { [key]: _dropped, ...rest } = object;
  return rest;
}

const nested = (depth: number, leaf: unknown = 1): unknown => {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
};

const loneSurrogates = fc.constantFrom('\ud800', 'a\udfffb', '\udc00\ud800');
const controlChars = fc
  .tuple(fc.string({ maxLength: 8 }), fc.constantFrom('\u0000', '\u0007', '\n', '\u001b', '\u007f', '\u0085'))
  .map(([a, c]) => `${a}${c}${a}`);
const longString = fc.integer({ min: 65, max: 20_000 }).map((n) => 'x'.repeat(n));
const nanIsh = fc.constantFrom(
  'NaN',
  'Infinity',
  '-Infinity',
  '1e400',
  '0x1F',
  '1_000',
  ' 1 ',
  '١',
  '1.0',
  '-0',
  '',
  'null',
  'undefined',
  'true',
  '[]',
  '{}',
  '9007199254740993',
);
const prototypeKeys = fc.constantFrom(
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '__defineGetter__',
  'isAdmin',
  'userId',
  'role',
  'admin',
);
const strangeKeys = fc.oneof(
  prototypeKeys,
  fc.string({ minLength: 1, maxLength: 20, unit: 'grapheme' }),
  fc.constantFrom('', ' ', '0', '-1', '\u0000', 'a'.repeat(5000), '$where', 'items.0'),
);

/** Values that are never a valid anything (for fields of any type). */
const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, [], {}, [[]], [null], { '': null }),
  nanIsh,
  loneSurrogates,
  controlChars,
  longString,
  fc.integer({ min: 0, max: 3 }).map((d) => nested(d * 40 + 1)),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { minLength: 1, maxLength: 3 }),
  fc.dictionary(strangeKeys, fc.jsonValue({ maxDepth: 1 }), { minKeys: 1, maxKeys: 3 }),
);

/** Numbers a positive safe-integer id must refuse. */
const badNumber = fc.oneof(
  fc.constantFrom(0, -0, -1, -MAX_SAFE, MAX_SAFE + 1, 2 ** 53, 2 ** 64, 1e308, -1e308, 0.5, 1.5, 1e-300),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Number.isInteger(n) || n <= 0),
  fc.integer({ min: -1_000_000, max: 0 }),
);
const badId = fc.oneof(badNumber, junk, fc.integer({ min: 1, max: 1000 }).map(String));
/** An integer in [min, max] is valid; everything else must be refused. */
const badRange = (min: number, max: number) =>
  fc.oneof(
    fc.constantFrom(min - 1, max + 1, min - 0.5, max + 0.5, MAX_SAFE + 2, -MAX_SAFE, 1e308),
    fc.integer({ min: max + 1, max: max + 1_000_000 }),
    fc.integer({ min: -1_000_000, max: min - 1 }),
    fc.double({ min, max, noNaN: true }).filter((n) => !Number.isInteger(n)),
    junk,
  );
const badText = (max: number) =>
  fc.oneof(
    fc.constantFrom('', ' '.repeat(max + 1)),
    fc.integer({ min: max + 1, max: max + 3000 }).map((n) => 'é'.repeat(n)),
    loneSurrogates,
    controlChars,
    badNumber,
    fc.constantFrom(null, true, [], {}, ['a'], { a: 'b' }),
  );
const badKey = fc.oneof(
  fc.constantFrom(''),
  fc.integer({ min: 65, max: 5000 }).map((n) => 'k'.repeat(n)),
  loneSurrogates,
  controlChars,
  badNumber,
  fc.constantFrom(null, true, [], {}, ['k']),
);
/** Not an order id by shape (a well-formed unknown id is refused too, as ORDER_NOT_FOUND). */
const badOrderId = fc.oneof(
  fc.constantFrom(''),
  fc.integer({ min: 65, max: 5000 }).map((n) => 'o'.repeat(n)),
  badNumber,
  fc.constantFrom(null, true, [], {}, ['00000000-0000-4000-8000-000000000000']),
);
const badInstant = fc.oneof(
  fc.constantFrom(
    '2026-02-30T00:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-01-01',
    '2026-01-01T00:00:00',
    'yesterday',
    '1e12',
    '',
    '2026-01-01T25:00:00Z',
  ),
  fc.integer(),
  fc.constantFrom(true, [], {}),
);
const plainText = (min: number, max: number) =>
  fc.string({ minLength: min, maxLength: max, unit: 'grapheme-ascii' }).filter((t) => t.trim().length >= min);
const uuid = fc.uuid();

type Spec = {
  auth: 'public' | 'user' | 'admin';
  /** Inputs the schema accepts (the service may still refuse them); undefined: takes no input. */
  shaped?: () => fc.Arbitrary<Record<string, unknown> | undefined>;
  /** Keys that must be present. */
  required?: string[];
  /** Per key: values the procedure must refuse (schema or service). */
  bad?: () => Record<string, fc.Arbitrary<unknown>>;
  /** For refusal tests: a known-valid input to corrupt (defaults to a shaped sample). */
  base?: () => Record<string, unknown>;
};

const orderItems = () =>
  fc.uniqueArray(
    fc.record({
      productId: fc.oneof(fc.constantFrom(...fx.products), fc.integer({ min: 1, max: MAX_SAFE })),
      quantity: fc.integer({ min: 1, max: 1000 }),
    }),
    { minLength: 1, maxLength: 5, selector: (i) => i.productId },
  );

/** Order lines that order.create and order.quote must both refuse (same schema, same catalog). */
const badItems = () =>
  fc.oneof(
    fc.constant([]),
    fc.constant(Array.from({ length: 51 }, (_, i) => ({ productId: i + 1, quantity: 1 }))),
    fc.constant([
      { productId: fx.products[0], quantity: 1 },
      { productId: fx.products[0], quantity: 2 },
    ]),
    badId.map((productId) => [{ productId, quantity: 1 }]),
    badRange(1, 1000).map((quantity) => [{ productId: fx.products[0], quantity }]),
    fc
      .tuple(strangeKeys, fc.jsonValue({ maxDepth: 1 }))
      .filter(([k]) => k !== 'productId' && k !== 'quantity')
      .map(([k, v]) => [withKey({ productId: fx.products[0], quantity: 1 }, k, v)]),
    fc.constant([{ productId: fx.products[0] }]),
    fc.constant([{ productId: 987_654_321, quantity: 1 }]),
    junk,
  );

/** Every procedure of the router, with what valid and invalid input look like for it. */
const SPECS: Record<string, Spec> = {
  'balance.get': { auth: 'user' },
  'balance.charge': {
    auth: 'user',
    shaped: () =>
      fc.record(
        {
          amount: fc.oneof(
            fc.integer({ min: 0, max: 20_000_000 }),
            fc.constantFrom(999, 1000, 10_000_000, 10_000_001, 1e20, MAX_SAFE),
          ),
          idempotencyKey: plainText(1, 64),
        },
        { requiredKeys: ['amount'] },
      ),
    required: ['amount'],
    base: () => ({ amount: 1000 }),
    // Well-formed amounts out of the limits are refused by the service with their own codes.
    bad: () => ({
      amount: fc.oneof(
        fc.integer({ min: 0, max: 999 }),
        fc.integer({ min: 10_000_001, max: MAX_SAFE }),
        fc.constantFrom(1e20, 1e300),
        fc.integer({ min: -1_000_000, max: -1 }),
        fc.double({ min: 1000, max: 10_000, noNaN: true }).filter((n) => !Number.isInteger(n)),
        junk,
      ),
      idempotencyKey: badKey,
    }),
  },
  'coupon.issue': {
    auth: 'user',
    shaped: () =>
      fc.record({
        couponId: fc.oneof(fc.constantFrom(...fx.coupons), fc.integer({ min: 1, max: MAX_SAFE })),
      }),
    required: ['couponId'],
    // The fuzzing user already holds coupon 0: valid, and refused as ALREADY_ISSUED.
    base: () => ({ couponId: fx.coupons[0] }),
    bad: () => ({ couponId: fc.oneof(badId, fc.constantFrom(987_654_321)) }),
  },
  'coupon.mine': { auth: 'user' },
  'order.create': {
    auth: 'user',
    shaped: () =>
      fc.record(
        {
          items: orderItems(),
          couponId: fc.oneof(fc.constantFrom(...fx.coupons), fc.integer({ min: 1, max: MAX_SAFE })),
          idempotencyKey: plainText(1, 64),
        },
        { requiredKeys: ['items'] },
      ),
    required: ['items'],
    base: () => ({ items: [{ productId: fx.products[0], quantity: 1 }] }),
    bad: () => ({
      items: fc.oneof(
        badItems(),
        // More than there is: refused as OUT_OF_STOCK, and nothing held.
        fc.constant([{ productId: fx.soldOut, quantity: 1 }]),
        fc.constant([
          { productId: fx.products[0], quantity: 1 },
          { productId: fx.soldOut, quantity: 1 },
        ]),
      ),
      couponId: fc.oneof(badId, fc.constantFrom(987_654_321)),
      idempotencyKey: badKey,
    }),
  },
  'order.quote': {
    auth: 'user',
    shaped: () =>
      fc.record(
        {
          items: orderItems(),
          couponId: fc.oneof(fc.constantFrom(...fx.coupons), fc.integer({ min: 1, max: MAX_SAFE })),
        },
        { requiredKeys: ['items'] },
      ),
    required: ['items'],
    base: () => ({ items: [{ productId: fx.products[0], quantity: 1 }] }),
    bad: () => ({
      items: badItems(),
      couponId: fc.oneof(badId, fc.constantFrom(987_654_321)),
    }),
  },
  'order.get': {
    auth: 'user',
    shaped: () => fc.record({ orderId: fc.oneof(fc.constantFrom(fx.userOrder, fx.otherOrder), uuid) }),
    required: ['orderId'],
    bad: () => ({ orderId: fc.oneof(badOrderId, badKey, uuid, fc.constantFrom(fx.otherOrder)) }),
  },
  'order.list': {
    auth: 'user',
    shaped: () =>
      fc.option(
        fc.record(
          {
            cursor: fc.oneof(uuid, fc.constantFrom(fx.userOrder, fx.otherOrder)),
            limit: fc.integer({ min: 1, max: 100 }),
          },
          { requiredKeys: [] },
        ),
        { nil: undefined },
      ),
    // A cursor that names no order of the caller is well-formed: an empty page, not an error.
    bad: () => ({ cursor: badOrderId, limit: badRange(1, 100) }),
  },
  'payment.pay': {
    auth: 'user',
    shaped: () =>
      fc.record(
        {
          orderId: fc.oneof(fc.constantFrom(fx.userOrder, fx.otherOrder), uuid, plainText(1, 64)),
          idempotencyKey: plainText(1, 64),
        },
        { requiredKeys: ['orderId'] },
      ),
    required: ['orderId'],
    // Another user's order: valid, and refused as ORDER_NOT_FOUND.
    base: () => ({ orderId: fx.otherOrder }),
    bad: () => ({
      orderId: fc.oneof(badOrderId, badKey, uuid, fc.constantFrom(fx.otherOrder, 'not-a-uuid')),
      idempotencyKey: badKey,
    }),
  },
  'product.get': {
    auth: 'public',
    shaped: () =>
      fc.record({
        productId: fc.oneof(fc.constantFrom(...fx.products), fc.integer({ min: 1, max: MAX_SAFE })),
      }),
    required: ['productId'],
    bad: () => ({ productId: badId }),
  },
  'product.list': {
    auth: 'public',
    shaped: () =>
      fc.option(
        fc.record(
          { cursor: fc.integer({ min: 0, max: MAX_SAFE }), limit: fc.integer({ min: 1, max: 100 }) },
          { requiredKeys: [] },
        ),
        { nil: undefined },
      ),
    bad: () => ({ cursor: badRange(0, MAX_SAFE), limit: badRange(1, 100) }),
  },
  'product.top': { auth: 'public' },
  'coupon.get': {
    auth: 'public',
    shaped: () =>
      fc.record({
        couponId: fc.oneof(fc.constantFrom(...fx.coupons), fc.integer({ min: 1, max: MAX_SAFE })),
      }),
    required: ['couponId'],
    bad: () => ({ couponId: badId }),
  },
  'coupon.list': {
    auth: 'public',
    shaped: () =>
      fc.option(
        fc.record(
          { cursor: fc.integer({ min: 1, max: MAX_SAFE }), limit: fc.integer({ min: 1, max: 100 }) },
          { requiredKeys: [] },
        ),
        { nil: undefined },
      ),
    bad: () => ({ cursor: badRange(1, MAX_SAFE), limit: badRange(1, 100) }),
  },
  // Refused in production (these tests run with NODE_ENV=production): FORBIDDEN for any valid input.
  'dev.token': {
    auth: 'public',
    shaped: () => fc.record({ userId: fc.integer({ min: 1, max: MAX_SAFE }) }),
    required: ['userId'],
    bad: () => ({ userId: badId }),
  },
  'waitingRoom.get': {
    auth: 'public',
    shaped: () =>
      fc.record({ roomId: fc.oneof(fc.constant(fx.room), fc.integer({ min: 1, max: MAX_SAFE })) }),
    required: ['roomId'],
    bad: () => ({ roomId: badId }),
  },
  'waitingRoom.join': {
    auth: 'user',
    shaped: () =>
      fc.record({ roomId: fc.oneof(fc.constant(fx.room), fc.integer({ min: 1, max: MAX_SAFE })) }),
    required: ['roomId'],
    bad: () => ({ roomId: fc.oneof(badId, fc.constantFrom(987_654_321)) }),
  },
  'waitingRoom.status': {
    auth: 'user',
    shaped: () =>
      fc.record({ roomId: fc.oneof(fc.constant(fx.room), fc.integer({ min: 1, max: MAX_SAFE })) }),
    required: ['roomId'],
    bad: () => ({ roomId: fc.oneof(badId, fc.constantFrom(987_654_321)) }),
  },
  'admin.waitingRoom.create': {
    auth: 'admin',
    // Ids of nothing that exists: rooms made here must not guard the other fixtures.
    shaped: () => {
      const ids = fc.uniqueArray(fc.integer({ min: 900_000_000, max: MAX_SAFE }), { maxLength: 5 });
      return fc
        .record(
          {
            name: plainText(1, 200),
            couponIds: ids,
            productIds: ids,
            admitPerSecond: fc.integer({ min: 1, max: 100_000 }),
            opensAt: fc.constantFrom('2026-01-01T00:00:00Z', '2030-01-01T00:00:00+09:00'),
            passTtlSeconds: fc.integer({ min: 60, max: 3600 }),
          },
          { requiredKeys: ['name', 'couponIds', 'admitPerSecond'] },
        )
        .filter((r) => r.couponIds.length + (r.productIds?.length ?? 0) > 0);
    },
    required: ['name', 'couponIds', 'admitPerSecond'],
    base: () => ({ name: 'room', couponIds: [987_654_321], admitPerSecond: 10 }),
    bad: () => ({
      name: badText(200),
      couponIds: fc.oneof(
        badId.map((id) => [id]),
        fc.constant([987_654_321, 987_654_321]),
        fc.constant([]),
        junk,
      ),
      admitPerSecond: badRange(1, 100_000),
      opensAt: badInstant,
      passTtlSeconds: badRange(60, 3600),
    }),
  },
  'admin.waitingRoom.update': {
    auth: 'admin',
    shaped: () =>
      fc.record(
        {
          roomId: fc.oneof(fc.constant(fx.room), fc.integer({ min: 1, max: MAX_SAFE })),
          admitPerSecond: fc.integer({ min: 1, max: 100_000 }),
          paused: fc.boolean(),
        },
        { requiredKeys: ['roomId'] },
      ),
    required: ['roomId'],
    base: () => ({ roomId: fx.room, admitPerSecond: 10 }),
    bad: () => ({
      roomId: fc.oneof(badId, fc.constantFrom(987_654_321)),
      admitPerSecond: badRange(1, 100_000),
      paused: fc.oneof(
        fc.constantFrom(0, 1, 'true', null),
        junk.filter((v) => typeof v !== 'boolean'),
      ),
    }),
  },
  'admin.product.create': {
    auth: 'admin',
    shaped: () =>
      fc.record({
        name: plainText(1, 200),
        price: fc.integer({ min: 0, max: 1_000_000_000 }),
        stock: fc.integer({ min: 0, max: 10_000_000 }),
      }),
    required: ['name', 'price', 'stock'],
    bad: () => ({ name: badText(200), price: badRange(0, 1_000_000_000), stock: badRange(0, 10_000_000) }),
  },
  'admin.product.restock': {
    auth: 'admin',
    shaped: () =>
      fc.record({
        // fast-check favours small integers: keep the sold-out product sold out.
        productId: fc
          .oneof(fc.constantFrom(...fx.products), fc.integer({ min: 1, max: MAX_SAFE }))
          .filter((id) => id !== fx.soldOut),
        quantity: fc.integer({ min: 1, max: 10_000_000 }),
      }),
    required: ['productId', 'quantity'],
    bad: () => ({
      productId: fc.oneof(badId, fc.constantFrom(987_654_321)),
      quantity: badRange(1, 10_000_000),
    }),
  },
  'admin.coupon.create': {
    auth: 'admin',
    shaped: () =>
      fc.record(
        {
          name: plainText(1, 200),
          discount: fc.oneof(
            fc.record({ type: fc.constant('FIXED'), value: fc.integer({ min: 1, max: 1_000_000_000 }) }),
            fc.record({ type: fc.constant('PERCENT'), value: fc.integer({ min: 1, max: 100 }) }),
          ),
          totalQuantity: fc.integer({ min: 1, max: 10_000_000 }),
          issueStartsAt: fc.option(fc.constantFrom('2026-01-01T00:00:00Z', '2026-11-26T19:00:00+09:00')),
          issueEndsAt: fc.option(fc.constantFrom('2027-01-01T00:00:00Z', '2030-01-01T00:00:00.000+00:00')),
          validDays: fc.option(fc.integer({ min: 1, max: 36_500 })),
        },
        { requiredKeys: ['name', 'discount', 'totalQuantity'] },
      ),
    required: ['name', 'discount', 'totalQuantity'],
    base: () => ({
      name: 'c',
      discount: { type: 'FIXED', value: 100 },
      totalQuantity: 10,
      issueStartsAt: '2026-01-01T00:00:00Z',
    }),
    bad: () => ({
      name: badText(200),
      discount: fc.oneof(
        fc.constantFrom(
          { type: 'FIXED', value: 0 },
          { type: 'PERCENT', value: 101 },
          { type: 'PERCENT', value: 0 },
          { type: 'PERCENT', value: 50.5 },
          { type: 'BOGO', value: 1 },
          { type: 'FIXED' },
          { value: 10 },
          { type: 'fixed', value: 10 },
        ),
        badNumber.map((value) => ({ type: 'FIXED', value })),
        strangeKeys
          .filter((k) => k !== 'type' && k !== 'value')
          .map((k) => withKey({ type: 'FIXED', value: 1 }, k, 1)),
        junk,
      ),
      totalQuantity: badRange(1, 10_000_000),
      issueStartsAt: badInstant,
      // Before the base's start.
      issueEndsAt: fc.oneof(badInstant, fc.constant('2025-12-31T23:59:59Z')),
      // null is valid here (no validity limit).
      validDays: badRange(1, 36_500).filter((v) => v !== null),
    }),
  },
};

/** Inputs a procedure must refuse: a valid input broken in one way. */
function hostileInput(spec: Spec): fc.Arbitrary<string> {
  const base = spec.base ? fc.constant(spec.base()) : spec.shaped!().map((v) => v ?? {});
  const bad = spec.bad?.() ?? {};
  const badFields = Object.keys(bad);
  const known = new Set([...badFields, ...(spec.required ?? [])]);
  const variants: fc.Arbitrary<unknown>[] = [
    // One field replaced by something it must refuse.
    fc
      .tuple(base, fc.constantFrom(...badFields))
      .chain(([b, key]) => bad[key]!.map((value) => withKey(without(b!, key), key, value))),
    // An unknown key (prototype pollution attempts among them) next to valid fields.
    fc
      .tuple(
        base,
        strangeKeys.filter((k) => !known.has(k)),
        fc.jsonValue({ maxDepth: 2 }),
      )
      .map(([b, key, value]) => withKey(b!, key, value)),
    // Not an object at all.
    fc.oneof(
      junk.filter((v) => !(v && typeof v === 'object' && !Array.isArray(v))),
      base.map((b) => [b]),
    ),
    // A deep nest in place of a field.
    fc
      .tuple(base, fc.constantFrom(...badFields), fc.integer({ min: 50, max: 2000 }))
      .map(([b, key, depth]) => withKey(without(b!, key), key, nested(depth))),
  ];
  if (spec.required?.length) {
    variants.push(fc.tuple(base, fc.constantFrom(...spec.required)).map(([b, key]) => without(b!, key)));
  }
  return fc.oneof(...variants).map((v) => JSON.stringify(v));
}

// ---------------------------------------------------------------- the tests
type AnyProcedure = { _def: { type: 'query' | 'mutation' } };
const routerProcedures = appRouter._def.procedures as unknown as Record<string, AnyProcedure>;
const procedures = Object.entries(routerProcedures);
const kindOf = (path: string) => routerProcedures[path]!._def.type;
const tokenFor = (spec: Spec) => (spec.auth === 'admin' ? fx.tokens.admin : fx.tokens.user);

beforeAll(async () => {
  s = await createTestServer({
    overrides: {
      NODE_ENV: 'production',
      AUTH_JWT_SECRET: SECRET,
      // The limiter runs on every limited call, far from its limits.
      RATE_LIMIT_USER_PER_SEC: '1000000',
      RATE_LIMIT_USER_BURST: '10000000',
      RATE_LIMIT_IP_PER_SEC: '1000000',
      RATE_LIMIT_IP_BURST: '10000000',
    },
  });
  trackJobAdds();
  pool = new pg.Pool({ connectionString: s.config.databaseUrl, max: 2 });
  const { rows } = await pool.query<{ table_name: string }>(
    `select table_name from information_schema.tables
     where table_schema = 'public' and table_type = 'BASE TABLE' and table_name not like 'kysely_%'`,
  );
  tables = rows.map((r) => r.table_name).sort();
  snapshotSql = `select ${tables
    .map((t) => {
      const name = pg.escapeIdentifier(t);
      return `(select md5(coalesce(string_agg(r::text, '|' order by r::text), '')) from ${name} r) as ${name}`;
    })
    .join(', ')}`;
  fx = await setUp();
});
afterAll(async () => {
  console.log(
    `property tests: ${tally.requests} HTTP requests, ${tally.calls} procedure calls with random or hostile input`,
  );
  await pool.end();
  await s.cleanup();
});

describe('every procedure, random and hostile input (NODE_ENV=production)', () => {
  it('has an input spec for every procedure of the router (a new procedure must be added here)', () => {
    expect(Object.keys(SPECS).sort()).toEqual(procedures.map(([path]) => path).sort());
    expect(tables).toEqual(
      expect.arrayContaining(['orders', 'balance_ledger', 'issued_coupons', 'idempotency_keys']),
    );
  });

  describe.each(procedures.map(([path]) => path))('%s', (path) => {
    it('refuses every broken input with a clean 4xx and changes nothing', {
      timeout: PROPERTY_TIMEOUT_MS,
    }, async () => {
      const spec = SPECS[path]!;
      const kind = kindOf(path);
      const before = await settledSnapshot();
      if (!spec.shaped) {
        // No input: whatever is sent is never parsed; the answer is the procedure's own.
        await fc.assert(
          fc.asyncProperty(fc.oneof(junk, fc.jsonValue()), async (input) => {
            check(await send(kind, path, JSON.stringify(input), tokenFor(spec)));
          }),
          { numRuns: 40 },
        );
      } else {
        await fc.assert(
          fc.asyncProperty(hostileInput(spec), async (json) => {
            check(await send(kind, path, json, tokenFor(spec)), { refused: true });
          }),
          { numRuns: HOSTILE_RUNS },
        );
      }
      expectSameState(await settledSnapshot(), before);
    });

    // Public procedures take no token: there is no wrong one to refuse.
    if (SPECS[path]!.auth !== 'public') {
      it('refuses a caller without the right token, whatever the input, and changes nothing', async () => {
        const spec = SPECS[path]!;
        const kind = kindOf(path);
        const badTokens = [
          undefined,
          'garbage',
          `${fx.tokens.user.split('.').slice(0, 2).join('.')}.AAAA`,
          await signToken('another-secret-that-is-long-enough-0000', USER, { admin: true }),
          ...(spec.auth === 'admin' ? [fx.tokens.user] : []),
        ];
        const before = await settledSnapshot();
        const input = spec.shaped ? spec.shaped() : fc.constant(undefined);
        await fc.assert(
          fc.asyncProperty(input, fc.constantFrom(...badTokens), async (value, token) => {
            const res = await send(
              kind,
              path,
              value === undefined ? undefined : JSON.stringify(value),
              token,
            );
            check(res, { refused: true });
            expect([401, 403]).toContain(res.status);
          }),
          { numRuns: 40 },
        );
        expectSameState(await settledSnapshot(), before);
      });
    }

    it('answers any well-formed input without a 5xx; a refusal changes nothing', {
      timeout: PROPERTY_TIMEOUT_MS,
    }, async () => {
      const spec = SPECS[path]!;
      const kind = kindOf(path);
      const input = spec.shaped ? spec.shaped() : fc.constant(undefined);
      const callers = spec.auth === 'admin' ? [fx.tokens.admin] : [fx.tokens.user, ...fx.tokens.fresh];
      let state = await settledSnapshot();
      await fc.assert(
        fc.asyncProperty(input, fc.constantFrom(...callers), async (value, token) => {
          const res = await send(kind, path, value === undefined ? undefined : JSON.stringify(value), token);
          check(res);
          if (kind === 'query' || res.status !== 200) {
            expectSameState(
              await snapshot(),
              state,
              `${path} ${res.status} ${JSON.stringify(value)?.slice(0, 200)}`,
            );
          } else {
            // An issued coupon asks for its drain job (coalesced per coupon, maybe a trailing add);
            // so does an order answered from Redis, which the worker then saves (done here).
            await jobAddsDone();
            if (path === 'order.create') await drainUnsavedOrders(s.rt);
            state = await settledSnapshot();
          }
        }),
        { numRuns: kind === 'mutation' ? SHAPED_RUNS : SHAPED_RUNS / 2 },
      );
    });
  });

  it('answers hostile batches call by call, never more than 10 calls, and changes nothing', async () => {
    const paths = procedures.map(([p]) => p);
    const entry = fc.constantFrom(...paths, 'nope', 'admin', 'admin.nope', '', 'balance.get.x', '__proto__');
    const before = await settledSnapshot();
    await fc.assert(
      fc.asyncProperty(
        fc.array(entry, { minLength: 1, maxLength: 14 }),
        fc.constantFrom<'GET' | 'POST'>('GET', 'POST'),
        fc.constantFrom(fx.tokens.user, fx.tokens.admin, undefined),
        fc.oneof(
          fc
            .array(fc.oneof(junk, fc.jsonValue({ maxDepth: 2 })), { maxLength: 14 })
            .map((inputs) => JSON.stringify(Object.fromEntries(inputs.map((v, i) => [i, v])))),
          junk.map((v) => JSON.stringify(v)),
          fc.constantFrom('{', '{"0":', 'null', '"0"', '[1,2]', '{"__proto__":{"0":{}}}'),
        ),
        async (batch, method, token, inputs) => {
          // Valid inputs are filtered out: a batch here must be refused call by call.
          const url = `/trpc/${batch.map(encodeURIComponent).join(',')}?batch=1`;
          tally.requests++;
          tally.calls += batch.length;
          const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
          const res = await s.app.inject(
            method === 'GET'
              ? { method, url: `${url}&input=${encodeURIComponent(inputs)}`, headers }
              : { method, url, headers: { ...headers, 'content-type': 'application/json' }, payload: inputs },
          );
          let body: any;
          try {
            body = JSON.parse(res.body);
          } catch {
            body = undefined;
          }
          const answer = { status: res.statusCode, body, text: res.body };
          check(answer);
          if (batch.length > 10) expect(res.statusCode).toBe(400);
          if (Array.isArray(body)) {
            expect(body).toHaveLength(batch.length);
            // Calls that succeeded can only be reads or no-input calls, which change nothing.
            body.forEach((a: any, i: number) => {
              if ('result' in a)
                expect(['query', undefined]).toContain(SPECS[batch[i]!] && kindOf(batch[i]!));
            });
          }
        },
      ),
      { numRuns: BATCH_RUNS },
    );
    expectSameState(await settledSnapshot(), before);
  });

  it('answers malformed requests (bodies, encodings, methods, sizes) over a real socket with a clean 4xx', async () => {
    const paths = procedures.map(([p]) => p);
    const before = await settledSnapshot();
    const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
    const body = fc.oneof(
      fc.constantFrom(
        '{',
        '{"amount":',
        '{"amount": 1000,}',
        "{'amount': 1000}",
        '{"amount": 1e400}',
        '{"amount": -1e400}',
        '{"amount": 1000}{"amount": 1000}',
        '\u0000',
        '\ufeff{"amount": 1000}',
        'null',
        '',
        deep(10_000),
        deep(100_000),
        `{"a":${'"x",'.repeat(1000)}1}`,
        `"${'x'.repeat(300_000)}"`,
        JSON.stringify({ items: Array.from({ length: 20_000 }, () => ({ productId: 1, quantity: 1 })) }),
      ),
      fc.string({ maxLength: 200, unit: 'binary' }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...paths),
        body,
        fc.constantFrom(
          'application/json',
          'text/plain',
          'application/x-www-form-urlencoded',
          'application/JSON; charset=utf-16',
          undefined,
        ),
        fc.constantFrom<'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH'>(
          'GET',
          'POST',
          'POST',
          'PUT',
          'DELETE',
          'PATCH',
        ),
        fc.constantFrom(fx.tokens.user, fx.tokens.admin, undefined),
        async (path, text, contentType, method, token) => {
          tally.requests++;
          tally.calls++;
          const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
          if (contentType) headers['content-type'] = contentType;
          const res =
            method === 'GET'
              ? await overHttp(method, `/trpc/${path}?input=${encodeURIComponent(text)}`, headers)
              : await overHttp(method, `/trpc/${path}`, headers, text);
          check(res, { refused: kindOf(path) === 'mutation' });
        },
      ),
      { numRuns: RAW_RUNS },
    );
    // Raw paths too: bad percent-encoding, very long paths, traversal.
    for (const url of [
      '/trpc/%E0%A4%A',
      '/trpc/%00',
      `/trpc/${'a'.repeat(5000)}`,
      '/trpc/../healthz',
      '/trpc/balance.get?batch=1&input=%7B%220%22%3A%7B%7D%7D',
    ]) {
      tally.requests++;
      const res = await overHttp('GET', url, { authorization: `Bearer ${fx.tokens.user}` });
      expect(res.status, url).toBeLessThan(500);
      expect(res.text).not.toMatch(/"stack"|node_modules|\/work\//);
    }
    expectSameState(await settledSnapshot(), before);
  });

  it('tried a substantial number of inputs', () => {
    expect(tally.calls).toBeGreaterThan(5000);
  });
});
