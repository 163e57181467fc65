// Calls that must succeed, for the benchmark's seeding and the store checks (the rehearsal's
// calls go through node/driver.ts httpFor).
import { httpCall } from '../../test/processes.ts';

export type Api = {
  query<T = any>(path: string, input?: unknown, token?: string): Promise<T>;
  mutate<T = any>(path: string, input?: unknown, token?: string): Promise<T>;
};

/** Their `data`, or an error with the status and the appCode. */
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
