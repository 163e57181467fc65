// Shared helpers for the k6 scenarios: configuration from -e variables, bearer tokens minted in
// the virtual users themselves (HS256 over AUTH_JWT_SECRET), and the contract's JSON wire format.
import crypto from 'k6/crypto';
import encoding from 'k6/encoding';
import http from 'k6/http';

export const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:3000';
export const SECRET = __ENV.AUTH_JWT_SECRET || 'flash-sale-dev-secret-do-not-use-in-production';
export const VUS = Number(__ENV.VUS || 100);
export const DURATION = __ENV.DURATION || '15s';

// 409 is how the contract refuses (sold out, already issued, out of stock, ...): an answer,
// not a failure. Everything else that is not 2xx counts in http_req_failed.
http.setResponseCallback(http.expectedStatuses(200, 409));

const HEADER = encoding.b64encode(JSON.stringify({ alg: 'HS256', typ: 'JWT' }), 'rawurl');

/** A token for `userId`, valid for an hour (role admin when asked). */
export function mintToken(userId, admin) {
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub: String(userId), iat: now, exp: now + 3600 };
  if (admin) claims.role = 'admin';
  const body = `${HEADER}.${encoding.b64encode(JSON.stringify(claims), 'rawurl')}`;
  return `${body}.${crypto.hmac('sha256', SECRET, body, 'base64rawurl')}`;
}

/** Tokens are minted once per user and virtual user, then reused by that virtual user. */
const minted = {};
export function tokenFor(userId) {
  if (!minted[userId]) minted[userId] = mintToken(userId, false);
  return minted[userId];
}

function params(token, name) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  return { headers, tags: { name } };
}

export function query(path, input, token) {
  const qs = input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`;
  return http.get(`${BASE_URL}/trpc/${path}${qs}`, params(token, path));
}

export function mutate(path, input, token) {
  return http.post(
    `${BASE_URL}/trpc/${path}`,
    input === undefined ? null : JSON.stringify(input),
    params(token, path),
  );
}

/** The `data` of a success, or throws with the answer (for setup and teardown). */
export function data(res) {
  if (res.status !== 200) throw new Error(`${res.request.url}: HTTP ${res.status} ${res.body}`);
  return res.json().result.data;
}

export function appCode(res) {
  try {
    return res.json().error.data.appCode;
  } catch {
    return undefined;
  }
}

/** GETs many queries in parallel batches (teardown checks over thousands of users). */
export function queryAll(requests, chunk = 100) {
  const out = [];
  for (let i = 0; i < requests.length; i += chunk) {
    const batch = requests.slice(i, i + chunk).map(([path, input, token]) => {
      const qs = input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`;
      return ['GET', `${BASE_URL}/trpc/${path}${qs}`, null, params(token, `teardown ${path}`)];
    });
    out.push(...http.batch(batch));
  }
  return out;
}

export function createProduct(admin, name, price, stock) {
  return data(mutate('admin.product.create', { name, price, stock }, admin));
}

/** All of a user's orders, following order.list's cursor. */
export function allOrders(token) {
  const orders = [];
  let cursor;
  do {
    const page = data(query('order.list', cursor ? { cursor, limit: 100 } : { limit: 100 }, token));
    orders.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return orders;
}

/** Throws (failing the run) when any invariant is violated. */
export function assertInvariants(violations) {
  if (violations.length > 0) {
    throw new Error(`${violations.length} invariant violations:\n${violations.slice(0, 50).join('\n')}`);
  }
  console.log('invariants: all hold');
}
