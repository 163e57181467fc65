import { timingSafeEqual } from 'node:crypto';
import { SignJWT } from 'jose';
import { AppError, AppErrorCode } from '../errors.ts';
import { createHs256 } from './hs256.ts';

export type AuthUser = { userId: number; isAdmin: boolean };

/** Tokens from a clock a little ahead or behind are still accepted, by at most this much. */
export const CLOCK_TOLERANCE_SECONDS = 30;
/** AUTH_MAX_TOKEN_TTL's default: the longest `exp − iat` a token may have. */
export const DEFAULT_MAX_TOKEN_TTL_SECONDS = 24 * 60 * 60;
const USER_ID = /^[1-9][0-9]{0,15}$/;

function unauthorized(message: string, cause?: unknown): AppError {
  return new AppError(AppErrorCode.UNAUTHORIZED, message, undefined, { cause });
}

export type TokenVerifier = {
  /** The caller of a `Bearer` header, or throws UNAUTHORIZED. Synchronous: no I/O is involved. */
  verify(authorizationHeader: string | undefined): AuthUser;
};

type Claims = Record<string, unknown>;

const isObject = (value: unknown): value is Claims =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function decodeSegment(segment: string): unknown {
  return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
}

/**
 * Verifies a compact HS256 JWS and its time claims the way jose's jwtVerify does with
 * `algorithms: ['HS256'], requiredClaims: ['exp', 'sub'], clockTolerance`, synchronously:
 * jose goes through WebCrypto, whose thread-pool round trip cost more than the whole rest of
 * `coupon.issue` (its profile is in the retired bench notes, `git show b96332d:loadtests/bench/notes.md`).
 * Signature first, claims after.
 *
 * Every caller (tRPC procedures, the fast mutations, the queue dashboard) verifies here, so the
 * lifetime bound holds on every path: `exp − iat` may not exceed `maxTtlSeconds`. `iat` stays
 * optional, as in the contract; a token without it counts as issued now, so it is accepted only
 * once its `exp` is at most `maxTtlSeconds` away, never for longer than a token with `iat`.
 */
function verifyHs256(
  token: string,
  hs256: (signingInput: string) => Uint8Array,
  maxTtlSeconds: number,
  /** Header segments already decoded and accepted (the check depends on nothing else). */
  acceptedHeaders: Set<string>,
): Claims {
  const firstDot = token.indexOf('.');
  const lastDot = token.lastIndexOf('.');
  const headerSegment = token.slice(0, firstDot);
  if (!acceptedHeaders.has(headerSegment)) {
    let header: unknown;
    try {
      header = decodeSegment(headerSegment);
    } catch (err) {
      throw unauthorized('Invalid token', err);
    }
    // Pinned algorithm. `crit` extensions (among them unencoded payloads, b64) are not supported;
    // without `crit`, jose ignores `b64` too.
    if (!isObject(header) || header.alg !== 'HS256' || header.crit !== undefined)
      throw unauthorized('Invalid token');
    // Every token of one issuer carries the same header: decode it once, not per token.
    if (acceptedHeaders.size < 16) acceptedHeaders.add(headerSegment);
  }
  const expected = hs256(token.slice(0, lastDot));
  const signature = Buffer.from(token.slice(lastDot + 1), 'base64url');
  if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) {
    throw unauthorized('Invalid token');
  }
  let claims: unknown;
  try {
    claims = decodeSegment(token.slice(firstDot + 1, lastDot));
  } catch (err) {
    throw unauthorized('Invalid token', err);
  }
  if (!isObject(claims) || claims.sub === undefined || typeof claims.exp !== 'number') {
    throw unauthorized('Invalid token');
  }
  const now = Math.floor(Date.now() / 1000);
  // Stricter than jwtVerify, which only looks at iat when given a maximum age: a token issued
  // in the future (beyond the tolerance) comes from a wrong clock or a forger.
  if (
    claims.iat !== undefined &&
    (typeof claims.iat !== 'number' || claims.iat > now + CLOCK_TOLERANCE_SECONDS)
  ) {
    throw unauthorized('Invalid token');
  }
  if (
    claims.nbf !== undefined &&
    (typeof claims.nbf !== 'number' || claims.nbf > now + CLOCK_TOLERANCE_SECONDS)
  ) {
    throw unauthorized('Invalid token');
  }
  if (claims.exp <= now - CLOCK_TOLERANCE_SECONDS) throw unauthorized('Token expired');
  const issuedAt = typeof claims.iat === 'number' ? claims.iat : now;
  if (claims.exp - issuedAt > maxTtlSeconds) {
    throw unauthorized('Token lifetime exceeds the allowed maximum (AUTH_MAX_TOKEN_TTL)');
  }
  return claims;
}

/**
 * A cheap fingerprint of a verified token: its last characters encode the HMAC tag, which is
 * uniformly distributed, so mixing a few of them gives a well-spread 32-bit value.
 */
function tagWord(token: string): number {
  let h = 0;
  for (let i = token.length - 6; i < token.length; i++) h = Math.imul(h ^ token.charCodeAt(i), 0x9e3779b1);
  return h | 0;
}

/** Slots of the cache's doorkeeper (2^16 words, 256 KiB): a token seen twice within ~65k others is admitted. */
const DOORKEEPER_BITS = 16;

/**
 * HS256 only: the algorithm is pinned, so `alg: none` and an RS/HS swap are refused.
 *
 * Verified tokens are remembered until they expire, because a client that calls again (a crowd
 * retrying, a user paying after ordering) presents the same token and an HMAC plus JSON parse
 * per call is measurable on the hot path. A token enters the cache on its second verification
 * only: a flash crowd is mostly tokens seen once, and a cache entry for each of them outlived
 * the young generation and showed as GC time in a flash crowd's profile. First sightings are remembered in a direct-mapped table of
 * fingerprints, which allocates nothing per token: the doorkeeper of TinyLFU's admission
 * policy, as a table rather than a Bloom filter.
 */
export function createTokenVerifier(
  secret: string,
  options: { maxTtlSeconds?: number; cacheSize?: number } = {},
): TokenVerifier & { readonly cached: number } {
  const maxTtlSeconds = options.maxTtlSeconds ?? DEFAULT_MAX_TOKEN_TTL_SECONDS;
  const cacheSize = options.cacheSize ?? 50_000;
  const hs256 = createHs256(Buffer.from(secret, 'utf8'));
  type Entry = { user: AuthUser; expiresAtMs: number };
  // Two generations of at most cacheSize / 2 each: when the recent one fills up it becomes the
  // older one and the previous older one is dropped whole. Evicting single entries from the
  // front of one Map instead costs O(deleted entries) per eviction in V8 once it is full.
  const generation = Math.max(1, Math.floor(cacheSize / 2));
  let recent = new Map<string, Entry>();
  let older = new Map<string, Entry>();
  // A collision only admits a token on its first sighting, or makes a repeat wait one more call.
  const seen = new Int32Array(1 << DOORKEEPER_BITS);
  const acceptedHeaders = new Set<string>();

  return {
    get cached() {
      return recent.size + older.size;
    },
    verify(header) {
      if (!header) throw unauthorized('Missing bearer token');
      const match = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*)$/.exec(header);
      if (!match) throw unauthorized('Malformed Authorization header; expected "Bearer <JWT>"');
      const token = match[1]!;
      const cached = recent.get(token) ?? older.get(token);
      if (cached && cached.expiresAtMs + CLOCK_TOLERANCE_SECONDS * 1000 > Date.now()) return cached.user;
      const payload = verifyHs256(token, hs256, maxTtlSeconds, acceptedHeaders);
      const sub = payload.sub;
      if (typeof sub !== 'string' || !USER_ID.test(sub) || !Number.isSafeInteger(Number(sub))) {
        throw unauthorized('Token subject must be a positive integer user id');
      }
      const user: AuthUser = { userId: Number(sub), isAdmin: payload.role === 'admin' };
      const word = tagWord(token);
      const slot = word >>> (32 - DOORKEEPER_BITS);
      if (seen[slot] !== word) {
        seen[slot] = word;
        return user;
      }
      if (recent.size >= generation) {
        older = recent;
        recent = new Map();
      }
      recent.set(token, { user, expiresAtMs: (payload.exp as number) * 1000 });
      return user;
    },
  };
}

/** Mints a token (for `pnpm token`, tests and load tests). */
export async function signToken(
  secret: string,
  userId: number,
  options: { admin?: boolean; expiresIn?: string | number } = {},
): Promise<string> {
  const jwt = new SignJWT(options.admin ? { role: 'admin' } : {})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(String(userId))
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '12h');
  return jwt.sign(new TextEncoder().encode(secret));
}
