/**
 * What the order area keeps in memory, one per runtime (built in runtime.ts). A process can hold
 * several runtimes (tests do), each with its own database and Redis prefix, so none of this
 * lives in a module.
 */
export type OrderState = {
  /** productId -> when this process last listed it as active (order.store.ts, registerActive). */
  listedAt: Map<number, number>;
  /** The drain of unsaved orders running here, if one is: a second caller joins it (order.persist.ts). */
  drain: { promise: Promise<number>; again: boolean } | undefined;
};

export function createOrderState(): OrderState {
  return { listedAt: new Map(), drain: undefined };
}
