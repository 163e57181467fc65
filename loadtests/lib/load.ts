// Drives HTTP load with autocannon's JS API and summarises it the same way for every row and
// scenario: requests per second over the measured window, latency percentiles from every
// response (not autocannon's 1 ms buckets), errors and status codes.
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
  /**
   * Called for every request: a distinct user, order or product each time. `context` belongs
   * to the connection (one request in flight per connection), so what is put there here is
   * what `onResponse` sees for the answer.
   */
  next: (context: Record<string, any>) => RequestSpec;
  /** Sees every response body (costs the load generator a little; use only where needed). */
  onResponse?: (status: number, body: string, context: Record<string, any>) => void;
  /** Stop after this many requests (e.g. when only that many orders exist to pay). */
  amount?: number;
  /**
   * Answers with this status are what is being measured (409 for a sold-out coupon): counted in
   * `statusCounts` as usual, but not as errors.
   */
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
  /**
   * The load generator's own garbage-collection pauses in the window. Every request in flight
   * during one counts it as latency, so a longest pause near p99 means the tail is partly the
   * load generator's, not the server's.
   */
  loadgenGc?: { pauses: number; totalMs: number; longestMs: number };
  /**
   * Spells of at least SILENCE_MS in which no connection got an answer. At these rates answers
   * follow each other every few tens of µs, so such a spell means the whole pipeline (server,
   * Redis, load generator, or the cores under them) stood still, and every request in flight
   * waited it out: that is what p99 is made of when it sits far above p95.
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

async function once(options: LoadOptions, durationSec: number, amount?: number): Promise<LoadStats> {
  const loadgenGc = { pauses: 0, totalMs: 0, longestMs: 0 };
  const countGc = (entries: PerformanceEntry[]) => {
    for (const entry of entries) {
      loadgenGc.pauses++;
      loadgenGc.totalMs += entry.duration;
      loadgenGc.longestMs = Math.max(loadgenGc.longestMs, entry.duration);
    }
  };
  const gcObserver = new PerformanceObserver((list) => countGc(list.getEntries()));
  gcObserver.observe({ entryTypes: ['gc'] });
  const silences = { count: 0, totalMs: 0, longestMs: 0 };
  let lastAnswerAt = Number.NaN;
  let latencies = new Float64Array(1 << 16);
  let count = 0;
  const statusCounts: Record<string, number> = {};
  let finish!: (result: autocannon.Result) => void;
  let fail!: (err: unknown) => void;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
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
            const spec = options.next(context as Record<string, any>);
            request.method = spec.method;
            request.path = spec.path;
            request.headers = spec.headers ?? {};
            request.body = spec.body;
            return request;
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
    (err, result) => (err ? fail(err) : finish(result)),
  );
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    if (count === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    const now = performance.now();
    const gap = now - lastAnswerAt;
    if (gap >= SILENCE_MS) {
      silences.count++;
      silences.totalMs += gap;
      silences.longestMs = Math.max(silences.longestMs, gap);
    }
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
  return {
    requests: count,
    durationSec: elapsedSec,
    rps: count / elapsedSec,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
    errors:
      result.errors +
      result.timeouts +
      non2xx -
      (options.expectStatus === undefined ? 0 : (statusCounts[options.expectStatus] ?? 0)),
    statusCounts,
    loadgenGc,
    silences,
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
