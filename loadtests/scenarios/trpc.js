// The API's wire format (tRPC over HTTP, plain JSON), as request descriptions that the k6
// scripts and the Node runner both send: no k6 or Node import here, so both can load it.
// Queries are GET /trpc/<path>?input=<json>, mutations POST /trpc/<path> with a JSON body;
// an answer is { result: { data } } or { error: { data: { appCode } } }.
// k6 runs these files as they are, without transpiling: keep to syntax its JavaScript engine
// has long had (no numeric separators, no logical assignment).

/** @import { InputOf, MutationPath, OutputOf, ProcedurePath, QueryPath } from './procedures.ts' */

/**
 * A request to one procedure. `user` is the caller (the driver adds that user's bearer token);
 * undefined for public procedures, and admin calls set `admin`. `pass` is a waiting room's
 * pass, sent as X-Waiting-Room-Pass (scenarios/waiting-room.js).
 * @typedef {{ procedure: ProcedurePath, method: 'GET' | 'POST', path: string, body?: string, user?: number, admin?: boolean, pass?: string }} Call
 */

/**
 * @template {QueryPath} P
 * @param {P} procedure
 * @param {InputOf<P>} [input]
 * @param {number} [user]
 * @returns {Call}
 */
export function query(procedure, input, user) {
  const qs = input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`;
  return { procedure, method: 'GET', path: `/trpc/${procedure}${qs}`, user };
}

/**
 * @template {MutationPath} P
 * @param {P} procedure
 * @param {InputOf<P>} input
 * @param {number} [user]
 * @returns {Call}
 */
export function mutation(procedure, input, user) {
  return { procedure, method: 'POST', path: `/trpc/${procedure}`, body: JSON.stringify(input), user };
}

/**
 * @template {MutationPath} P
 * @param {P} procedure
 * @param {InputOf<P>} input
 * @returns {Call}
 */
export function adminMutation(procedure, input) {
  return { ...mutation(procedure, input), admin: true };
}

/**
 * The `data` of a successful answer, typed by the procedure it answers.
 * @template {ProcedurePath} P
 * @param {P} _procedure
 * @param {string} body
 * @returns {OutputOf<P>}
 */
export function dataOf(_procedure, body) {
  return JSON.parse(body).result.data;
}

/**
 * The contract's appCode of a refusal, or undefined.
 * @param {string | null | undefined} body
 * @returns {string | undefined}
 */
export function appCodeOf(body) {
  if (!body) return undefined;
  try {
    return JSON.parse(body).error?.data?.appCode;
  } catch {
    return undefined;
  }
}

/**
 * One page of the caller's orders (order.list follows its cursor).
 * @param {number} user
 * @param {string | undefined} cursor
 */
export function ordersPage(user, cursor) {
  return query('order.list', cursor ? { cursor, limit: 100 } : { limit: 100 }, user);
}

/**
 * The contract's ranking for product.top: at most 5, most units first, ties by the lower
 * product id, products that sold nothing left out.
 * @template {{ productId: number, soldQuantity: number }} T
 * @param {T[]} sales
 * @returns {T[]}
 */
export function ranking(sales) {
  return sales
    .filter((s) => s.soldQuantity > 0)
    .sort((a, b) => b.soldQuantity - a.soldQuantity || a.productId - b.productId)
    .slice(0, 5);
}

/**
 * Shape settings with overrides from the environment, as numbers: k6's -e variables, or the
 * Node runner's LOADTEST_ ones (`prefix`). `users` is overridden by USERS, `firstUser` by
 * FIRST_USER, and so on.
 * @template {Record<string, number>} T
 * @param {T} shape
 * @param {Record<string, string | undefined>} env
 * @param {string} [prefix]
 * @returns {T}
 */
export function withOverrides(shape, env, prefix = '') {
  /** @type {Record<string, number>} */
  const out = { ...shape };
  for (const key of Object.keys(shape)) {
    const value = env[prefix + key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()];
    if (value !== undefined && value !== '') out[key] = Number(value);
  }
  return /** @type {T} */ (out);
}
