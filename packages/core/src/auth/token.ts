import { errors, jwtVerify, SignJWT } from 'jose';
import { AppError, AppErrorCode } from '../errors.ts';

export type AuthUser = { userId: number; isAdmin: boolean };

/** Tokens from a clock a little ahead or behind are still accepted, by at most this much. */
export const CLOCK_TOLERANCE_SECONDS = 30;
const USER_ID = /^[1-9][0-9]{0,15}$/;

function unauthorized(message: string, cause?: unknown): AppError {
  return new AppError(AppErrorCode.UNAUTHORIZED, message, undefined, { cause });
}

export type TokenVerifier = {
  verify(authorizationHeader: string | undefined): Promise<AuthUser>;
};

/**
 * HS256 only: the algorithm is pinned, so `alg: none` and an RS/HS swap are refused by jose.
 * Verified tokens are remembered until they expire, because a flash crowd presents the same
 * token on every request and an HMAC plus JSON parse per call is measurable on the hot path.
 */
export function createTokenVerifier(secret: string, cacheSize = 50_000): TokenVerifier {
  const key = new TextEncoder().encode(secret);
  const cache = new Map<string, { user: AuthUser; expiresAtMs: number }>();

  return {
    async verify(header) {
      if (!header) throw unauthorized('Missing bearer token');
      const match = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*)$/.exec(header);
      if (!match) throw unauthorized('Malformed Authorization header; expected "Bearer <JWT>"');
      const token = match[1]!;
      const cached = cache.get(token);
      if (cached) {
        if (cached.expiresAtMs + CLOCK_TOLERANCE_SECONDS * 1000 > Date.now()) return cached.user;
        cache.delete(token);
      }
      let payload: Awaited<ReturnType<typeof jwtVerify>>['payload'];
      try {
        ({ payload } = await jwtVerify(token, key, {
          algorithms: ['HS256'],
          requiredClaims: ['exp', 'sub'],
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
        }));
      } catch (err) {
        if (err instanceof errors.JWTExpired) throw unauthorized('Token expired', err);
        throw unauthorized('Invalid token', err);
      }
      const sub = payload.sub;
      if (typeof sub !== 'string' || !USER_ID.test(sub) || !Number.isSafeInteger(Number(sub))) {
        throw unauthorized('Token subject must be a positive integer user id');
      }
      const user: AuthUser = { userId: Number(sub), isAdmin: payload.role === 'admin' };
      if (cache.size >= cacheSize) cache.delete(cache.keys().next().value!);
      cache.set(token, { user, expiresAtMs: (payload.exp as number) * 1000 });
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
