import type { Db } from '../db/client.ts';

/** A user never seen before has balance 0 (their row is created on the first charge). */
export async function findBalance(db: Db, userId: number): Promise<number> {
  const row = await db.selectFrom('users').select('balance').where('id', '=', userId).executeTakeFirst();
  return row?.balance ?? 0;
}
