// This tab's waiting-room passes, wired to the session and the router: the tRPC link asks
// `passHeaders` which pass a batch of calls needs, and a NOT_ADMITTED answer sends the shopper
// back to the room's waiting page (`backToWaitingRoom`).
import { navigate } from './router';
import { currentUserId } from './session';
import { createPassStore, type Op } from './waiting-room';

export const PASS_HEADER = 'x-waiting-room-pass';

export const passes = createPassStore(() => {
  try {
    return sessionStorage;
  } catch {
    return undefined;
  }
});

/** The X-Waiting-Room-Pass header for a batch that holds a guarded call, else nothing. */
export function passHeaders(ops: readonly Op[]): Record<string, string> {
  const userId = currentUserId();
  const pass = userId ? passes.passFor(userId, ops) : undefined;
  return pass ? { [PASS_HEADER]: pass } : {};
}

/**
 * The API refused this shopper's pass for `roomId` (expired, or none yet): the pass is marked
 * refused, so the waiting page says why the shopper is back and never sends it again.
 */
export function backToWaitingRoom(roomId: number): void {
  const userId = currentUserId();
  if (userId) passes.refusePass(userId, roomId);
  navigate(`/waiting-room/${roomId}`);
}
