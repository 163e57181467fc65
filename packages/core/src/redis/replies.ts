/**
 * The one decoder of the replies of scripts/lua (the protocol: scripts/lua/lib/reply.lua).
 * A script answers a code, alone or first in an array with its payload; a code means the same
 * in every script. Stores call `decodeReply(script, raw)` and get a discriminated union on
 * `code` holding only the codes that script answers; anything else throws, naming the script.
 */

/** The wire codes; lib/reply.lua holds the same table (a test checks they agree). */
export const ReplyCode = {
  /** Done; carries the script's value if it has one. */
  OK: 0,
  /** The script's state is missing from Redis: nothing changed, rebuild from Postgres first. */
  NOT_LOADED: 1,
  /** A load found the state already there: nothing changed; carries the script's value if any. */
  ALREADY_LOADED: 2,
  /** Over the user or address limit: nothing decided, counted or written. */
  RATE_LIMITED: 3,
  /** Outside the window in which the thing can be had. */
  NOT_ACTIVE: 4,
  /** This user already holds it. */
  ALREADY_ISSUED: 5,
  /** None left to give. */
  SOLD_OUT: 6,
  /** A product has fewer units than asked. */
  OUT_OF_STOCK: 7,
  /** The order holds nothing (already released or committed). */
  NO_HOLD: 8,
} as const;
export type ReplyCodeName = keyof typeof ReplyCode;

/**
 * What OK (and ALREADY_LOADED) carry, per script: nothing, an integer, a string, a string
 * only when the caller asked for it (else the bare code), or a row of integers (every element
 * after the code: `{OK, 1, 2, 3}` carries `[1, 2, 3]`).
 */
type ValueKinds = {
  none: undefined;
  integer: number;
  string: string;
  'string?': string | undefined;
  integers: readonly number[];
};
type ValueKind = keyof ValueKinds;

type ReplySpec = { readonly codes: readonly ReplyCodeName[]; readonly value: ValueKind };

/**
 * Every script's codes and value, as its header in scripts/lua documents them. A test checks
 * this table against the scripts: the same names, and each body uses exactly these codes.
 */
export const SCRIPT_REPLIES = {
  issueCoupon: {
    codes: ['OK', 'NOT_LOADED', 'RATE_LIMITED', 'NOT_ACTIVE', 'ALREADY_ISSUED', 'SOLD_OUT'],
    // The pending entry's id, when the caller asked for it (REDIS_WAIT_REPLICAS).
    value: 'string?',
  },
  revokeIssuance: { codes: ['OK'], value: 'integer' },
  restoreCoupon: { codes: ['OK', 'ALREADY_LOADED'], value: 'integer' },
  couponAckPending: { codes: ['OK'], value: 'integer' },
  rateLimit: { codes: ['OK', 'RATE_LIMITED'], value: 'none' },
  holdStock: { codes: ['OK', 'NOT_LOADED', 'RATE_LIMITED', 'OUT_OF_STOCK'], value: 'none' },
  releaseHold: { codes: ['OK', 'NOT_LOADED', 'NO_HOLD'], value: 'none' },
  loadStock: { codes: ['OK', 'ALREADY_LOADED'], value: 'none' },
  restock: { codes: ['OK', 'NOT_LOADED'], value: 'integer' },
  forgetIdleProduct: { codes: ['OK'], value: 'integer' },
  rankingLoad: { codes: ['OK', 'ALREADY_LOADED'], value: 'none' },
  rankingRecord: { codes: ['OK', 'NOT_LOADED'], value: 'none' },
  rankingTop: { codes: ['OK', 'NOT_LOADED'], value: 'string' },
  // The caller's ticket and the room's admission state (lib/waiting-room.lua).
  joinWaitingRoom: { codes: ['OK', 'NOT_LOADED', 'RATE_LIMITED'], value: 'integers' },
  waitingRoomStatus: { codes: ['OK', 'NOT_LOADED'], value: 'integers' },
  updateWaitingRoom: { codes: ['OK', 'NOT_LOADED'], value: 'none' },
  loadWaitingRoom: { codes: ['OK', 'ALREADY_LOADED'], value: 'none' },
} as const satisfies Record<string, ReplySpec>;
export type ScriptName = keyof typeof SCRIPT_REPLIES;

/** One decoded reply: `code` and, for the codes that have one, the payload. */
export type Reply<C extends ReplyCodeName, V = undefined> = C extends 'OK' | 'ALREADY_LOADED'
  ? [V] extends [undefined]
    ? { readonly code: C }
    : undefined extends V
      ? { readonly code: C; readonly value?: Exclude<V, undefined> }
      : { readonly code: C; readonly value: V }
  : C extends 'RATE_LIMITED'
    ? { readonly code: C; readonly retryAfterMs: number; readonly limit: 'user' | 'ip' }
    : C extends 'OUT_OF_STOCK'
      ? { readonly code: C; readonly productId: number }
      : { readonly code: C };

/** What `script` can answer, decoded. */
export type ReplyOf<S extends ScriptName> = Reply<
  (typeof SCRIPT_REPLIES)[S]['codes'][number],
  ValueKinds[(typeof SCRIPT_REPLIES)[S]['value']]
>;

/** Code -> name. */
const NAMES: readonly ReplyCodeName[] = Object.entries(ReplyCode).reduce<ReplyCodeName[]>(
  (names, [name, code]) => {
    names[code] = name as ReplyCodeName;
    return names;
  },
  [],
);

/**
 * The replies without a payload, built once: the hot path's answers (an issuance, a refusal)
 * allocate nothing to decode.
 */
const BARE = NAMES.map((name) => Object.freeze({ code: name }));

/** Per script: the codes it answers as a bit mask, and its value's kind. */
const SPECS = Object.fromEntries(
  Object.entries(SCRIPT_REPLIES).map(([script, spec]: [string, ReplySpec]) => [
    script,
    { mask: spec.codes.reduce((mask, name) => mask | (1 << ReplyCode[name]), 0), value: spec.value },
  ]),
) as Record<ScriptName, { mask: number; value: ValueKind }>;

function badReply(script: string, raw: unknown, why: string): Error {
  const codes = SCRIPT_REPLIES[script as ScriptName]?.codes.join(', ') ?? 'none known';
  return new Error(`Lua script ${script} replied ${JSON.stringify(raw)}: ${why} (it answers ${codes})`);
}

function isValue(kind: ValueKind, value: unknown): boolean {
  switch (kind) {
    case 'none':
      return value === undefined;
    case 'integer':
      return Number.isSafeInteger(value);
    case 'string':
      return typeof value === 'string';
    case 'string?':
      return value === undefined || typeof value === 'string';
    case 'integers':
      return Array.isArray(value) && value.every((v) => Number.isSafeInteger(v));
  }
}

/**
 * Decodes one reply of `script`. Throws (naming the script and the codes it answers) on a code
 * that script does not answer, or a payload that does not fit its code.
 */
export function decodeReply<S extends ScriptName>(script: S, raw: unknown): ReplyOf<S> {
  const spec = SPECS[script];
  if (spec === undefined) throw badReply(script, raw, 'no such script in SCRIPT_REPLIES');
  let code: unknown = raw;
  let a: unknown;
  let b: unknown;
  if (Array.isArray(raw)) {
    code = raw[0];
    a = raw[1];
    b = raw[2];
  }
  if (typeof code !== 'number' || !Number.isInteger(code) || code < 0 || code >= NAMES.length) {
    throw badReply(script, raw, 'not a reply code');
  }
  if ((spec.mask & (1 << code)) === 0) throw badReply(script, raw, `${NAMES[code]} is not one of its codes`);
  switch (code) {
    case ReplyCode.OK:
    case ReplyCode.ALREADY_LOADED:
      if (spec.value === 'integers') a = Array.isArray(raw) ? raw.slice(1) : undefined;
      if (!isValue(spec.value, a)) throw badReply(script, raw, `expected a value of kind ${spec.value}`);
      return (a === undefined ? BARE[code] : { code: NAMES[code], value: a }) as ReplyOf<S>;
    case ReplyCode.RATE_LIMITED:
      if (typeof a !== 'number' || a < 0 || (b !== 1 && b !== 2)) {
        throw badReply(script, raw, 'expected retryAfterMs and which limit (1 user, 2 address)');
      }
      return { code: 'RATE_LIMITED', retryAfterMs: a, limit: b === 1 ? 'user' : 'ip' } as ReplyOf<S>;
    case ReplyCode.OUT_OF_STOCK:
      if (!Number.isSafeInteger(a)) throw badReply(script, raw, 'expected a productId');
      return { code: NAMES[code], productId: a } as ReplyOf<S>;
    default:
      return BARE[code] as ReplyOf<S>;
  }
}
