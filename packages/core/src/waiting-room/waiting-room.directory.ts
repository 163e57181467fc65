/**
 * Which coupons and products the waiting rooms guard (and the rooms' shared reads), kept in memory and refreshed from
 * Postgres, so a guarded call is recognised (and an unguarded one let through) without any
 * I/O: an unguarded call pays two map lookups. Built once by the API's composition root
 * (apps/api/src/server.ts) and closed with it.
 *
 * A room created in this process is known at once (`remember`); one created by another API
 * process is known after the next refresh (`refreshMs`).
 */
import type { Db } from '../db/client.ts';
import { listWaitingRooms, type WaitingRoomRecord } from './waiting-room.repository.ts';

export type WaitingRoomDirectory = {
  /** False until the first refresh succeeded: until then nobody can tell which calls are guarded. */
  readonly loaded: boolean;
  /** The rooms guarding a coupon, or undefined (unguarded). */
  roomsOfCoupon(couponId: number): readonly number[] | undefined;
  /** The rooms guarding a product, or undefined (unguarded). */
  roomsOfProduct(productId: number): readonly number[] | undefined;
  room(roomId: number): WaitingRoomRecord | undefined;
  rooms(): readonly WaitingRoomRecord[];
  /** Takes a room just written in Postgres by this process. */
  remember(room: WaitingRoomRecord): void;
  refresh(): Promise<void>;
  /**
   * Runs `read` once for all the callers that ask for `key` while it is in flight (waitingRoom.get's
   * pollers share one HMGET per room per round trip, as product.top's readers share one read).
   */
  shared<T>(key: string, read: () => Promise<T>): Promise<T>;
  close(): void;
};

export function createWaitingRoomDirectory(
  db: Db,
  options: { refreshMs?: number } = {},
): WaitingRoomDirectory {
  let byId = new Map<number, WaitingRoomRecord>();
  let coupons = new Map<number, number[]>();
  let products = new Map<number, number[]>();
  let loaded = false;

  const index = (rooms: Iterable<WaitingRoomRecord>) => {
    const nextCoupons = new Map<number, number[]>();
    const nextProducts = new Map<number, number[]>();
    const add = (map: Map<number, number[]>, id: number, roomId: number) => {
      const list = map.get(id);
      if (list) list.push(roomId);
      else map.set(id, [roomId]);
    };
    for (const room of rooms) {
      for (const id of room.couponIds) add(nextCoupons, id, room.id);
      for (const id of room.productIds) add(nextProducts, id, room.id);
    }
    coupons = nextCoupons;
    products = nextProducts;
  };

  let refreshing: Promise<void> | undefined;
  const refresh = () => {
    refreshing ??= listWaitingRooms(db)
      .then((rooms) => {
        // A room remembered while the query ran is kept: the query may have started before it.
        const next = new Map(rooms.map((r) => [r.id, r]));
        for (const [id, room] of byId) if (!next.has(id)) next.set(id, room);
        byId = next;
        index(byId.values());
        loaded = true;
      })
      .finally(() => {
        refreshing = undefined;
      });
    return refreshing;
  };

  const timer =
    options.refreshMs === undefined
      ? undefined
      : setInterval(() => {
          // Postgres down: the last index stays (rooms are never deleted, so it is still right).
          refresh().catch(() => {});
        }, options.refreshMs);
  timer?.unref();

  const inFlight = new Map<string, Promise<unknown>>();

  return {
    get loaded() {
      return loaded;
    },
    roomsOfCoupon: (id) => coupons.get(id),
    roomsOfProduct: (id) => products.get(id),
    room: (id) => byId.get(id),
    rooms: () => [...byId.values()],
    remember(room) {
      byId.set(room.id, room);
      index(byId.values());
    },
    refresh,
    shared<T>(key: string, read: () => Promise<T>): Promise<T> {
      let flight = inFlight.get(key) as Promise<T> | undefined;
      if (!flight) {
        flight = read().finally(() => inFlight.delete(key));
        inFlight.set(key, flight);
      }
      return flight;
    },
    close() {
      if (timer) clearInterval(timer);
    },
  };
}
