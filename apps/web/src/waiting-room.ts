// The waiting room on the shopper's side: where a ticket stands (worked out from the room's
// public `admittedThrough`, so every waiting page can poll the one cacheable `waitingRoom.get`),
// the pass kept in sessionStorage and put on the calls the room guards, and the way back to the
// waiting page when the API refuses a pass (NOT_ADMITTED).

/** What the page reads of `waitingRoom.get` (the contract's shape, structurally). */
export type RoomView = {
  roomId: number;
  couponIds: number[];
  productIds: number[];
  admitPerSecond: number;
  paused: boolean;
  opensAt: string | null;
  joined: number;
  admittedThrough: number;
};

export type Standing = {
  admitted: boolean;
  /** Tickets still to be admitted before this one (the contract's `position`). */
  ahead: number;
  /** Seconds until this ticket is admitted at the room's rate; null while the room is paused. */
  etaSeconds: number | null;
  /** 0..1: how much of the queue in front of this ticket, when it was handed out, has gone in. */
  progress: number;
};

/**
 * Where `ticket` stands in `room` at `now`. Admission follows ticket order at `admitPerSecond`
 * from `opensAt`, so the tickets up to this one go in within (ticket - admittedThrough) / rate
 * seconds. `startedAt` is the room's `admittedThrough` when the ticket was handed out: the
 * progress bar's zero.
 */
export function standingOf(room: RoomView, ticket: number, startedAt: number, now: number): Standing {
  const admitted = ticket <= room.admittedThrough;
  const ahead = admitted ? 0 : ticket - room.admittedThrough - 1;
  const queue = ticket - startedAt;
  const progress =
    admitted || queue <= 0 ? 1 : Math.min(1, Math.max(0, (room.admittedThrough - startedAt) / queue));
  if (admitted) return { admitted, ahead, etaSeconds: 0, progress };
  if (room.paused) return { admitted, ahead, etaSeconds: null, progress };
  const untilOpen = room.opensAt ? Math.max(0, (new Date(room.opensAt).getTime() - now) / 1000) : 0;
  const etaSeconds = untilOpen + (ticket - room.admittedThrough) / Math.max(1, room.admitPerSecond);
  return { admitted, ahead, etaSeconds, progress };
}

/**
 * How long until the page asks again. Far from its turn a page asks every few seconds (the
 * numbers on it move, but nothing depends on them); near its turn, every second, so an admitted
 * shopper goes in at once. A paused room is asked every 5 s, to see it resume.
 */
export function nextPollMs(standing: Standing): number {
  if (standing.etaSeconds === null) return 5000;
  return Math.round(Math.min(5000, Math.max(1000, (standing.etaSeconds * 1000) / 2)));
}

/** "about 2 min", "less than a minute"... an estimate, said as one. */
export function describeWait(etaSeconds: number | null): string {
  if (etaSeconds === null) return 'unknown while admission is paused';
  if (etaSeconds < 10) return 'a few seconds';
  if (etaSeconds < 60) return 'less than a minute';
  const minutes = Math.round(etaSeconds / 60);
  if (minutes < 60) return `about ${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return `about ${hours} h ${minutes % 60} min`;
}

/** The sale page an admitted shopper goes to: the room's first coupon, else its first product. */
export function saleRouteOf(room: Pick<RoomView, 'couponIds' | 'productIds'>): string {
  if (room.couponIds[0] !== undefined) return `/coupons/${room.couponIds[0]}`;
  if (room.productIds[0] !== undefined) return `/products/${room.productIds[0]}`;
  return '/';
}

/** One room's entry for this tab: the ticket, where the queue stood, and the pass once admitted. */
export type RoomEntry = {
  ticket: number;
  startedAt: number;
  pass: string | null;
  /** The last pass the API refused (expired): never sent again, and why the page says so. */
  refusedPass: string | null;
  couponIds: number[];
  productIds: number[];
};

type Stored = { userId: number; rooms: Record<string, RoomEntry> };

export const PASSES_KEY = 'flash.waitingRoom';

type StorageLike = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

/** A call as tRPC's link sees it (Operation's path and input). */
export type Op = { path: string; input: unknown };

/**
 * This tab's tickets and passes, per user: a pass is useless to anyone else, so entries of a user
 * who signed out are ignored and replaced. Kept in sessionStorage (this tab only, gone when it
 * closes), like the token.
 */
export function createPassStore(storage: () => StorageLike | undefined) {
  const read = (userId: number): Record<string, RoomEntry> => {
    try {
      const raw = storage()?.getItem(PASSES_KEY);
      const stored = raw ? (JSON.parse(raw) as Stored) : undefined;
      return stored && stored.userId === userId && typeof stored.rooms === 'object' ? stored.rooms : {};
    } catch {
      return {};
    }
  };
  const write = (userId: number, rooms: Record<string, RoomEntry>) => {
    try {
      storage()?.setItem(PASSES_KEY, JSON.stringify({ userId, rooms } satisfies Stored));
    } catch {
      // Storage refused (private mode): the page asks waitingRoom.status again after a reload.
    }
  };
  return {
    entry(userId: number, roomId: number): RoomEntry | undefined {
      return read(userId)[roomId];
    },
    save(userId: number, roomId: number, entry: RoomEntry): void {
      write(userId, { ...read(userId), [roomId]: entry });
    },
    /** Sets a pass the API refused aside; the ticket stays (joining again answers the same one). */
    refusePass(userId: number, roomId: number): void {
      const rooms = read(userId);
      const entry = rooms[roomId];
      if (entry?.pass)
        write(userId, { ...rooms, [roomId]: { ...entry, pass: null, refusedPass: entry.pass } });
    },
    /**
     * The pass a batch of calls needs: that of the room guarding the coupon a `coupon.issue`
     * claims or a product an `order.create` orders. Other calls carry none. A batch holds at
     * most one guarded call in practice (one button press); if two rooms' calls met in one
     * batch, the first one's pass goes and the other call is refused NOT_ADMITTED, which sends
     * the shopper back to that room's page rather than failing silently.
     */
    passFor(userId: number, ops: readonly Op[]): string | undefined {
      const rooms = Object.values(read(userId)).filter((r) => r.pass);
      if (rooms.length === 0) return undefined;
      for (const op of ops) {
        const room = rooms.find((r) => guards(r, op));
        if (room?.pass) return room.pass;
      }
      return undefined;
    },
  };
}

function guards(room: RoomEntry, op: Op): boolean {
  const input = (op.input ?? {}) as { couponId?: unknown; items?: { productId?: unknown }[] };
  if (op.path === 'coupon.issue') return room.couponIds.includes(Number(input.couponId));
  if (op.path === 'order.create') {
    const items = Array.isArray(input.items) ? input.items : [];
    return items.some((item) => room.productIds.includes(Number(item?.productId)));
  }
  return false;
}

export type PassStore = ReturnType<typeof createPassStore>;
