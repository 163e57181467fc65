import type { RateLimit } from '../config.ts';

/**
 * How a rate limit travels to the Lua scripts that check it (scripts/lua/lib/gcra.lua, pasted
 * into the rate-limit, issue, hold and waiting-room scripts): part of the scripts' argument
 * protocol, so it lives with the script loader, and every store that passes limits uses it.
 */

/** One caller's limiter subject (`u:1`, `ip:…`) and GCRA settings; `intervalMicros: 0` = off. */
export type CallerLimit = { subject: string; intervalMicros: number; burst: number };

/** Microseconds between requests at the sustained rate; whole numbers keep the TAT exact. */
export function intervalMicros(perSecond: number): number {
  return Math.max(1, Math.round(1_000_000 / perSecond));
}

/**
 * A limit as the scripts take it (lib/gcra.lua): interval and burst, or 'off' (the scripts
 * refuse 0 and garbage, so a bug never switches a limit off silently).
 */
export function limitArgs(limit: { intervalMicros: number; burst: number }): (string | number)[] {
  return limit.intervalMicros > 0 ? [limit.intervalMicros, limit.burst] : ['off', 0];
}

/** The settings of a limit that is off. */
export const LIMIT_OFF: Readonly<{ intervalMicros: number; burst: number }> = { intervalMicros: 0, burst: 0 };

/** A configured limit as GCRA settings; `perSecond: 0` (off) gives `LIMIT_OFF`. */
export function limitSettings(limit: RateLimit): { intervalMicros: number; burst: number } {
  return limit.perSecond > 0
    ? { intervalMicros: intervalMicros(limit.perSecond), burst: limit.burst }
    : LIMIT_OFF;
}
