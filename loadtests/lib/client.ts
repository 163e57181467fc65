// A minimal client for the contract's plain-JSON wire format, for seeding and for the
// closing invariant checks (the load itself goes through autocannon).

export class ApiError extends Error {
  readonly status: number;
  readonly body: any;
  constructor(status: number, body: any) {
    super(`HTTP ${status}: ${body?.error?.data?.appCode ?? body?.error?.message ?? JSON.stringify(body)}`);
    this.status = status;
    this.body = body;
  }
  get appCode(): string | undefined {
    return this.body?.error?.data?.appCode;
  }
}

export type Api = {
  query<T = any>(path: string, input?: unknown, token?: string): Promise<T>;
  mutate<T = any>(path: string, input?: unknown, token?: string): Promise<T>;
};

export function apiClient(baseUrl: string): Api {
  async function call(kind: 'query' | 'mutation', path: string, input: unknown, token?: string) {
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    const res =
      kind === 'query'
        ? await fetch(
            `${baseUrl}/trpc/${path}${input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`}`,
            { headers },
          )
        : await fetch(`${baseUrl}/trpc/${path}`, {
            method: 'POST',
            headers: { ...headers, 'content-type': 'application/json' },
            body: input === undefined ? undefined : JSON.stringify(input),
          });
    const body: any = await res.json();
    if (!res.ok) throw new ApiError(res.status, body);
    return body.result.data;
  }
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
