import type { ProductInfo } from './product.repository.ts';

/**
 * What the product area keeps in memory, one per runtime (built in runtime.ts). A process can
 * hold several runtimes (tests do), each with its own database and Redis prefix, so none of this
 * lives in a module.
 */
export type ProductState = {
  /** Names and prices by product id (product.service.ts): they never change after creation. */
  infos: Map<number, { info: ProductInfo; expiresAt: number }>;
  /** The tail of this runtime's queue of inventory rebuilds, if one runs (inventory.service.ts). */
  rebuildTail: Promise<void> | undefined;
  /** Inventory loads in flight, per product: a burst after a lost master waits for one each. */
  loading: Map<number, Promise<unknown>>;
};

export function createProductState(): ProductState {
  return { infos: new Map(), rebuildTail: undefined, loading: new Map() };
}
