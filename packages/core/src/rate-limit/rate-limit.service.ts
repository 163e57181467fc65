import { isIPv4, isIPv6 } from 'node:net';
import { AppError, AppErrorCode, isUnavailableError } from '../errors.ts';
import type { CallerLimit } from '../redis/gcra.ts';
import type { Resources } from '../resources.ts';
import { consumeRateLimits, limitSettings } from './rate-limit.store.ts';

export type { CallerLimit } from '../redis/gcra.ts';

export type RateLimitedCall = {
  procedure: string;
  userId: number;
  ip: string;
  /**
   * Where the call's buckets are when not the procedure's own (`keys.rateLimit`): a one-line
   * order's are its product's (`keys.stock(id).limiter`), the ones its hold script counts.
   */
  limiter?: (subject: string) => string;
};

/**
 * The user and address limits that apply to one caller (config.rateLimit). Scripts that rate-limit
 * in the same step as their decision (coupon.issue's) take these; enforceRateLimit checks them on
 * their own.
 */
export function callerLimits(
  rt: Pick<Resources, 'config'>,
  caller: { userId: number; ip: string },
): { user: CallerLimit; ip: CallerLimit } {
  const { user, ip } = rt.config.rateLimit;
  return {
    user: { subject: `u:${caller.userId}`, ...limitSettings(user) },
    ip: { subject: addressSubject(caller.ip), ...limitSettings(ip) },
  };
}

/** RATE_LIMITED (429), saying which limit refused and when the next call fits. */
export function rateLimitedError(limit: 'user' | 'ip', retryAfterMs: number): AppError {
  return new AppError(AppErrorCode.RATE_LIMITED, 'Too many requests, please slow down', {
    limit,
    retryAfterMs,
  });
}

/**
 * Counts one call of a limited procedure against its caller's user limit and address limit
 * (config.rateLimit), one Redis round trip for both. Throws RATE_LIMITED when either is
 * exhausted, with `retryAfterMs` and which limit (`user` or `ip`) on the error.
 *
 * Returns `unchecked` when Redis is unreachable: the limiter fails open. It guards capacity,
 * not correctness (stock, coupons and money are decided by their own fail-closed scripts and
 * transactions), and refusing every charge and payment because the throttle's store is down
 * would turn a Redis outage into an outage of Postgres-only paths too.
 */
export async function enforceRateLimit(
  rt: Pick<Resources, 'config' | 'redis' | 'keys' | 'clock'>,
  call: RateLimitedCall,
): Promise<'allowed' | 'unchecked'> {
  const { user, ip } = rt.config.rateLimit;
  const key = call.limiter ?? ((subject: string) => rt.keys.rateLimit(call.procedure, subject));
  const checks = {
    user: { key: key(`u:${call.userId}`), limit: user },
    ip: { key: key(addressSubject(call.ip)), limit: ip },
  };
  let outcome: Awaited<ReturnType<typeof consumeRateLimits>>;
  try {
    outcome = await consumeRateLimits(rt.redis, checks, rt.clock.now().getTime());
  } catch (err) {
    if (isUnavailableError(err)) return 'unchecked';
    throw err;
  }
  if (outcome.code === 'RATE_LIMITED') throw rateLimitedError(outcome.limit, outcome.retryAfterMs);
  return 'allowed';
}

/**
 * The limiter subject for a client address. IPv4-mapped IPv6 counts as the IPv4 address; other
 * IPv6 addresses count per /64, the block one subscriber usually gets, so rotating through
 * one's own block does not multiply the limit. Anything else (a proxy header that is not an
 * address) shares one subject: a real client never lands there, only forged headers do.
 */
export function addressSubject(ip: string): string {
  if (isIPv4(ip)) return `ip:${ip}`;
  if (isIPv6(ip)) {
    const groups = expandIPv6(ip);
    const mapped = groups.slice(0, 6).join(':') === '0:0:0:0:0:ffff';
    if (mapped) {
      const [hi, lo] = [Number.parseInt(groups[6]!, 16), Number.parseInt(groups[7]!, 16)];
      return `ip:${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
    }
    return `ip:${groups.slice(0, 4).join(':')}::/64`;
  }
  return 'ip:invalid';
}

/** Eight lower-case hex groups without leading zeros; `ip` must pass isIPv6. */
function expandIPv6(ip: string): string[] {
  let address = ip.toLowerCase().split('%')[0]!;
  const dotted = address.lastIndexOf(':');
  if (address.includes('.', dotted)) {
    const [a, b, c, d] = address
      .slice(dotted + 1)
      .split('.')
      .map(Number) as [number, number, number, number];
    address = `${address.slice(0, dotted + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = address.split('::') as [string, string | undefined];
  const parse = (part: string | undefined) => (part ? part.split(':') : []);
  const left = parse(head);
  const right = parse(tail);
  const zeros = tail === undefined ? [] : Array(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((g) => Number.parseInt(g, 16).toString(16));
}
