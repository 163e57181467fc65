// What every k6 script shares: configuration from -e variables, bearer tokens minted in the
// virtual users themselves (HS256 over AUTH_JWT_SECRET), and sending the calls the scenario
// modules (loadtests/scenarios/*.js) describe. The scenarios themselves live there, once.
import crypto from 'k6/crypto';
import encoding from 'k6/encoding';
import http from 'k6/http';
import { dataOf, ordersPage, withOverrides } from '../scenarios/trpc.js';

/** @import { Call } from '../scenarios/trpc.js' */
/** @import { OutputOf } from '../scenarios/procedures.ts' */

export const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:3000';
const SECRET = __ENV.AUTH_JWT_SECRET || 'flash-sale-dev-secret-do-not-use-in-production';
export const VUS = Number(__ENV.VUS || 100);

/**
 * A scenario's shape with overrides from -e variables (USERS=100 overrides `users`), and the
 * run's duration (DURATION=30s, else the shape's `durationSec`).
 * @template {Record<string, number> & { durationSec: number }} T
 * @param {T} shape
 */
export function configure(shape) {
  const s = withOverrides(shape, __ENV);
  return { shape: s, duration: __ENV.DURATION || `${s.durationSec}s` };
}

// 409 is how the contract refuses (sold out, out of stock, ...): an answer, not a failure.
// Whether it is one the scenario expects is counted in `unexpected_answers`.
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 299 }, 409));

const HEADER = encoding.b64encode(JSON.stringify({ alg: 'HS256', typ: 'JWT' }), 'rawurl');

/**
 * A token for `userId`, valid for an hour (role admin when asked).
 * @param {number} userId
 * @param {boolean} [admin]
 */
function mintToken(userId, admin) {
  const now = Math.floor(Date.now() / 1000);
  /** @type {Record<string, string | number>} */
  const claims = { sub: String(userId), iat: now, exp: now + 3600 };
  if (admin) claims.role = 'admin';
  const body = `${HEADER}.${encoding.b64encode(JSON.stringify(claims), 'rawurl')}`;
  return `${body}.${crypto.hmac('sha256', SECRET, body, 'base64rawurl')}`;
}

/** Minted once per user and virtual user, then reused by that virtual user. @type {Record<number, string>} */
const minted = {};

/** @param {Call} call */
function params(call) {
  /** @type {Record<string, string>} */
  const headers = call.body === undefined ? {} : { 'content-type': 'application/json' };
  if (call.admin) headers.authorization = `Bearer ${mintToken(1, true)}`;
  else if (call.user !== undefined) {
    if (!minted[call.user]) minted[call.user] = mintToken(call.user);
    headers.authorization = `Bearer ${minted[call.user]}`;
  }
  if (call.pass) headers['x-waiting-room-pass'] = call.pass;
  return { headers, tags: { name: call.procedure } };
}

/**
 * @typedef {{ status: number, body: string }} Answer
 * @param {import('k6/http').RefinedResponse<'text'>} res
 * @returns {Answer}
 */
function answer(res) {
  return { status: res.status, body: typeof res.body === 'string' ? res.body : '' };
}

/** Sends one call; the answer whatever its status. @param {Call} call */
export function send(call) {
  return answer(http.request(call.method, `${BASE_URL}${call.path}`, call.body ?? null, params(call)));
}

/** Sends many calls in parallel batches (closing checks over thousands of users). @param {Call[]} calls */
export function sendAll(calls, chunk = 100) {
  /** @type {Answer[]} */
  const out = [];
  for (let i = 0; i < calls.length; i += chunk) {
    const batch = calls.slice(i, i + chunk).map(
      (call) =>
        /** @type {import('k6/http').ObjectBatchRequest} */ ({
          method: call.method,
          url: `${BASE_URL}${call.path}`,
          body: call.body ?? null,
          params: params(call),
        }),
    );
    for (const res of http.batch(batch)) out.push(answer(res));
  }
  return out;
}

/**
 * Sends a call that must succeed (setup): its `data`, or throws with the answer.
 * @param {Call} call
 * @returns {any}
 */
export function ok(call) {
  const a = send(call);
  if (a.status !== 200) throw new Error(`${call.procedure}: HTTP ${a.status} ${a.body}`);
  return JSON.parse(a.body).result.data;
}

/**
 * Every order of a user, following order.list's cursor.
 * @param {number} user
 */
export function allOrders(user) {
  /** @type {OutputOf<'order.list'>['items']} */
  const orders = [];
  /** @type {string | undefined} */
  let cursor;
  do {
    const a = send(ordersPage(user, cursor));
    if (a.status !== 200) throw new Error(`order.list for user ${user}: HTTP ${a.status} ${a.body}`);
    const page = dataOf('order.list', a.body);
    orders.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return orders;
}

/**
 * A scenario module's thresholds as k6 states them. `unexpected_answers` is the Rate each script
 * adds to with the answers the module does not expect.
 * @param {{ procedure?: string | undefined, p95: number, p99: number, unexpected: number }} t
 * @returns {Record<string, string[]>}
 */
export function thresholdsOf(t) {
  const duration = t.procedure ? `http_req_duration{name:${t.procedure}}` : 'http_req_duration';
  return {
    [duration]: [`p(95)<${t.p95}`, `p(99)<${t.p99}`],
    unexpected_answers: [`rate<${t.unexpected}`],
  };
}

/** Throws (failing the run) when any invariant is violated. @param {string[]} violations */
export function assertNone(violations) {
  if (violations.length > 0) {
    throw new Error(`${violations.length} invariant violations:\n${violations.slice(0, 50).join('\n')}`);
  }
  console.log('invariants: all hold');
}
