import type { Db } from '../db/client.ts';
import type { WaitingRoomRow } from '../db/database.ts';

/** A room's record as the service uses it (ids as numbers). */
export type WaitingRoomRecord = {
  id: number;
  name: string;
  couponIds: number[];
  productIds: number[];
  admitPerSecond: number;
  paused: boolean;
  opensAt: Date | null;
  passTtlSeconds: number;
};

export type NewWaitingRoom = Omit<WaitingRoomRecord, 'id' | 'paused'>;

function toRecord(row: WaitingRoomRow): WaitingRoomRecord {
  return {
    id: row.id,
    name: row.name,
    couponIds: row.coupon_ids.map(Number),
    productIds: row.product_ids.map(Number),
    admitPerSecond: row.admit_per_second,
    paused: row.paused,
    opensAt: row.opens_at,
    passTtlSeconds: row.pass_ttl_seconds,
  };
}

export async function insertWaitingRoom(db: Db, room: NewWaitingRoom): Promise<WaitingRoomRecord> {
  const row = await db
    .insertInto('waiting_rooms')
    .values({
      name: room.name,
      coupon_ids: room.couponIds,
      product_ids: room.productIds,
      admit_per_second: room.admitPerSecond,
      opens_at: room.opensAt,
      pass_ttl_seconds: room.passTtlSeconds,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toRecord(row);
}

/** Sets what is given; undefined when there is no such room. */
export async function updateWaitingRoomRow(
  db: Db,
  roomId: number,
  change: { admitPerSecond?: number; paused?: boolean },
): Promise<WaitingRoomRecord | undefined> {
  const row = await db
    .updateTable('waiting_rooms')
    .set({
      ...(change.admitPerSecond !== undefined ? { admit_per_second: change.admitPerSecond } : {}),
      ...(change.paused !== undefined ? { paused: change.paused } : {}),
      updated_at: new Date(),
    })
    .where('id', '=', roomId)
    .returningAll()
    .executeTakeFirst();
  return row && toRecord(row);
}

export async function listWaitingRooms(db: Db): Promise<WaitingRoomRecord[]> {
  const rows = await db.selectFrom('waiting_rooms').selectAll().orderBy('id').execute();
  return rows.map(toRecord);
}
