// A minimal client for the contract's plain-JSON wire format, for seeding and for the closing
// invariant checks (the load itself goes through autocannon or the sale's socket pool).
import { httpCall } from '../../test/processes.ts';

export type Api = {
  query<T = any>(path: string, input?: unknown, token?: string): Promise<T>;
  mutate<T = any>(path: string, input?: unknown, token?: string): Promise<T>;
};

/** Calls that must succeed: their `data`, or an error with the status and the appCode. */
export function apiClient(baseUrl: string): Api {
  const call = async (kind: 'query' | 'mutation', path: string, input: unknown, token?: string) => {
    const { status, body } = await httpCall(baseUrl, kind, path, input, token);
    if (status !== 200)
      throw new Error(`${path}: HTTP ${status}: ${body?.error?.data?.appCode ?? JSON.stringify(body)}`);
    return body.result.data;
  };
  return {
    query: (path, input, token) => call('query', path, input, token),
    mutate: (path, input, token) => call('mutation', path, input, token),
  };
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!, index);
    }
  });
  await Promise.all(lanes);
  return results;
}
