/**
 * What the ranking keeps in memory, one per runtime (built in runtime.ts): work in flight shared
 * by concurrent callers, keyed by the Redis key it reads or rebuilds.
 */
export type RankingState = { inFlight: Map<string, Promise<unknown>> };

export function createRankingState(): RankingState {
  return { inFlight: new Map() };
}
