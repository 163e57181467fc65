// The API's wire format (tRPC over HTTP, plain JSON) as request descriptions that both drivers
// send: no k6 or Node import here. k6 runs this file untranspiled: keep to syntax its engine has
// long had (no numeric separators, no logical assignment).

/** @import { InputOf, MutationPath, OutputOf, ProcedurePath, QueryPath } from './procedures.ts' */

/**
 * A request to one procedure: the driver adds `user`'s bearer token (the admin's with `admin`,
 * or `token` as it is) and sends `pass` as X-Waiting-Room-Pass.
 * @typedef {{ procedure: ProcedurePath, method: 'GET' | 'POST', path: string, body?: string, user?: number, admin?: boolean, token?: string, pass?: string }} Call
 */

/** @template {QueryPath} P @param {P} procedure @param {InputOf<P>} [input] @param {number} [user] @returns {Call} */
export function query(procedure, input, user) {
  const qs = input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`;
  return { procedure, method: 'GET', path: `/trpc/${procedure}${qs}`, user };
}

/** @template {MutationPath} P @param {P} procedure @param {InputOf<P>} input @param {number} [user] @returns {Call} */
export function mutation(procedure, input, user) {
  return { procedure, method: 'POST', path: `/trpc/${procedure}`, body: JSON.stringify(input), user };
}

/** @template {MutationPath} P @param {P} procedure @param {InputOf<P>} input @returns {Call} */
export function adminMutation(procedure, input) {
  return { ...mutation(procedure, input), admin: true };
}

/** The `data` of a successful answer, typed by its procedure. @template {ProcedurePath} P @param {P} _procedure @param {string} body @returns {OutputOf<P>} */
export function dataOf(_procedure, body) {
  return JSON.parse(body).result.data;
}

/** The contract's appCode of a refusal, or undefined. @param {string | null | undefined} body @returns {string | undefined} */
export function appCodeOf(body) {
  try {
    return body ? JSON.parse(body).error?.data?.appCode : undefined;
  } catch {
    return undefined;
  }
}

/**
 * product.top's ranking by the contract: at most 5, most units first, ties by the lower id, nothing unsold.
 * @template {{ productId: number, soldQuantity: number }} T @param {T[]} sales
 */
export function ranking(sales) {
  return sales
    .filter((s) => s.soldQuantity > 0)
    .sort((a, b) => b.soldQuantity - a.soldQuantity || a.productId - b.productId)
    .slice(0, 5);
}

/**
 * A shape with numbers from the environment: `firstUser` from FIRST_USER (k6's -e) or
 * `${prefix}FIRST_USER` (LOADTEST_FIRST_USER for the Node driver).
 * @template {Record<string, number>} T @param {T} shape @param {Record<string, string | undefined>} env @param {string} [prefix] @returns {T}
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
