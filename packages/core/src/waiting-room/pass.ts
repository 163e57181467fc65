/**
 * Waiting-room passes: what an admitted shopper sends (`X-Waiting-Room-Pass`) on a guarded call.
 * A pass is signed (HMAC-SHA256 with WAITING_ROOM_SECRET), bound to a room, a user and a
 * ticket, and carries its expiry, so a guarded call checks it in memory with no Redis round
 * trip (docs/adr/0400-waiting-room.md says why a signature and not a lookup).
 *
 * Wire form: `<roomId>.<userId>.<ticket>.<expiresAtMs>.<signature>`, decimal fields and a
 * base64url signature of `wr1.<the four fields>`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type PassClaims = { roomId: number; userId: number; ticket: number; expiresAtMs: number };

/** Longer than any pass this service signs; a longer header is refused before it is parsed. */
export const MAX_PASS_LENGTH = 160;

const PASS = /^(\d{1,16})\.(\d{1,16})\.(\d{1,16})\.(\d{1,16})\.([A-Za-z0-9_-]{43})$/;

/** Why a pass was refused; also the `reason` label of flash_waiting_room_pass_refusals_total. */
export type PassRefusal = 'missing' | 'malformed' | 'forged' | 'expired' | 'other_user' | 'other_room';

function signature(secret: string, payload: string): string {
  return createHmac('sha256', secret).update(`wr1.${payload}`).digest('base64url');
}

export function signPass(secret: string, c: PassClaims): string {
  const payload = `${c.roomId}.${c.userId}.${c.ticket}.${c.expiresAtMs}`;
  return `${payload}.${signature(secret, payload)}`;
}

/**
 * The claims of a pass this service signed, or why it is refused. Checks shape and length
 * first (a header of any size or content is answered, never thrown on), then the signature in
 * constant time, then the expiry. Binding to user and room is the caller's (it knows which).
 */
export function readPass(
  secret: string,
  pass: string | undefined,
  nowMs: number,
): { ok: true; claims: PassClaims } | { ok: false; reason: PassRefusal } {
  if (pass === undefined || pass === '') return { ok: false, reason: 'missing' };
  if (pass.length > MAX_PASS_LENGTH) return { ok: false, reason: 'malformed' };
  const m = PASS.exec(pass);
  if (!m) return { ok: false, reason: 'malformed' };
  const payload = `${m[1]}.${m[2]}.${m[3]}.${m[4]}`;
  const expected = Buffer.from(signature(secret, payload));
  const given = Buffer.from(m[5]!);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    return { ok: false, reason: 'forged' };
  }
  const claims = {
    roomId: Number(m[1]),
    userId: Number(m[2]),
    ticket: Number(m[3]),
    expiresAtMs: Number(m[4]),
  };
  if (claims.expiresAtMs <= nowMs) return { ok: false, reason: 'expired' };
  return { ok: true, claims };
}
