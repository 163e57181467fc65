import type { Runtime } from '../runtime.ts';
import { findBalance } from './balance.repository.ts';

export type Balance = { userId: number; balance: number };

export async function getBalance(rt: Pick<Runtime, 'db'>, userId: number): Promise<Balance> {
  return { userId, balance: await findBalance(rt.db, userId) };
}
