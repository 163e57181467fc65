// The benchmark's HTTP load through autocannon's JS API: requests per second over the window,
// latency percentiles from every response (not autocannon's 1 ms buckets), errors and statuses.
import { type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';
import autocannon from 'autocannon';

export type RequestSpec = {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
};

export type LoadOptions = {
  url: string;
  connections: number;
  durationSec: number;
  /** Run this long first and throw the numbers away (JIT, pools, caches). */
  warmupSec?: number;
  /** The next request; `context` is the connection's, so `onResponse` sees what was put there. */
  next: (context: Record<string, any>) => RequestSpec;
  /** Sees every response body (costs the load generator a little). */
  onResponse?: (status: number, body: string, context: Record<string, any>) => void;
  /** Stop after this many requests. */
  amount?: number;
  /** Answers with this status are what is measured (409 for a sold-out coupon): not errors. */
  expectStatus?: number;
};

export type LoadStats = {
  requests: number;
  durationSec: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** Socket errors and timeouts plus non-2xx answers (but those of `expectStatus`). */
  errors: number;
  statusCounts: Record<string, number>;
  /** The load generator's own GC pauses in the window: latency for every request in flight. */
  loadgenGc?: { pauses: number; totalMs: number; longestMs: number };
  /**
   * Spells of at least SILENCE_MS without any answer: the whole pipeline stood still and every
   * request in flight waited it out (what p99 is made of when it sits far above p95).
   */
  silences?: { count: number; totalMs: number; longestMs: number };
};

/** The shortest gap between two answers (from any connection) that counts as a silence. */
export const SILENCE_MS = 10;

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

/** Sorted copy of the first `count` latencies. */
export function sortedLatencies(values: Float64Array, count: number): Float64Array {
  return values.slice(0, count).sort();
}

type Spells = { count: number; totalMs: number; longestMs: number };
const add = (s: Spells, ms: number) => {
  s.count++;
  s.totalMs += ms;
  s.longestMs = Math.max(s.longestMs, ms);
};

async function once(options: LoadOptions, durationSec: number, amount?: number): Promise<LoadStats> {
  const gc = { count: 0, totalMs: 0, longestMs: 0 };
  const countGc = (entries: PerformanceEntry[]) => {
    for (const entry of entries) add(gc, entry.duration);
  };
  const gcObserver = new PerformanceObserver((list) => countGc(list.getEntries()));
  gcObserver.observe({ entryTypes: ['gc'] });
  const silences = { count: 0, totalMs: 0, longestMs: 0 };
  let lastAnswerAt = Number.NaN;
  let latencies = new Float64Array(1 << 16);
  let count = 0;
  const statusCounts: Record<string, number> = {};
  const { promise: done, resolve, reject } = Promise.withResolvers<autocannon.Result>();
  const instance = autocannon(
    {
      url: options.url,
      connections: options.connections,
      pipelining: 1,
      duration: durationSec,
      amount,
      timeout: 10,
      requests: [
        {
          setupRequest: (request, context) => {
            const { method, path, headers = {}, body } = options.next(context as Record<string, any>);
            return Object.assign(request, { method, path, headers, body });
          },
          ...(options.onResponse
            ? {
                onResponse: (status: number, body: string, context: object) =>
                  options.onResponse!(status, body, context as Record<string, any>),
              }
            : {}),
        },
      ],
    },
    (err, result) => (err ? reject(err) : resolve(result)),
  );
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    if (count === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    const now = performance.now();
    if (now - lastAnswerAt >= SILENCE_MS) add(silences, now - lastAnswerAt);
    lastAnswerAt = now;
    latencies[count++] = responseTime;
    statusCounts[statusCode] = (statusCounts[statusCode] ?? 0) + 1;
  });
  const started = process.hrtime.bigint();
  const result = await done.finally(() => {
    countGc(gcObserver.takeRecords());
    gcObserver.disconnect();
  });
  const elapsedSec = Number(process.hrtime.bigint() - started) / 1e9;
  const sorted = sortedLatencies(latencies, count);
  const non2xx =
    count - Object.entries(statusCounts).reduce((n, [s, c]) => (s.startsWith('2') ? n + c : n), 0);
  const expected = options.expectStatus === undefined ? 0 : (statusCounts[options.expectStatus] ?? 0);
  const errors = result.errors + result.timeouts + non2xx - expected;
  return {
    ...summarize(sorted, elapsedSec, errors, statusCounts),
    loadgenGc: { pauses: gc.count, totalMs: gc.totalMs, longestMs: gc.longestMs },
    silences,
  };
}

/** The stats of `sorted` latencies answered over `durationSec`. */
export function summarize(
  sorted: Float64Array,
  durationSec: number,
  errors: number,
  statusCounts: Record<string, number>,
): LoadStats {
  const [p50, p95, p99] = [50, 95, 99].map((p) => percentile(sorted, p)) as [number, number, number];
  const requests = sorted.length;
  return {
    requests,
    durationSec,
    rps: requests / durationSec,
    p50,
    p95,
    p99,
    max: sorted.at(-1) ?? Number.NaN,
    errors,
    statusCounts,
  };
}

export async function runLoad(options: LoadOptions): Promise<LoadStats> {
  if (options.warmupSec) await once(options, options.warmupSec);
  return once(options, options.durationSec, options.amount);
}

export const fmt = {
  rps: (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–'),
  ms: (n: number) => (Number.isFinite(n) ? (n < 10 ? n.toFixed(2) : n.toFixed(1)) : '–'),
};
