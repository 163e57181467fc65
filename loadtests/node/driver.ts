import type { Api } from '../lib/client.ts';
import type { RunEnv } from '../lib/env.ts';
import type { LoadStats } from '../lib/load.ts';

export type ScenarioContext = {
  run: RunEnv;
  url: string;
  api: Api;
  admin: string;
  secret: string;
  durationSec: number;
  connections: number;
  log(line: string): void;
};

/** A threshold as k6 states them: a name, the measured value and whether it passed. */
export type Threshold = { name: string; value: string; ok: boolean };

export type ScenarioResult = {
  /** One line per request kind in the summary table. */
  stats: { name: string; stats: LoadStats }[];
  thresholds: Threshold[];
  /** Invariants checked through the API (the Postgres and Redis checks are the runner's). */
  violations: string[];
  /** Facts worth printing (sold out after N, orders paid, ...). */
  notes: string[];
};

export type Scenario = {
  name: string;
  description: string;
  /** The matching k6 script under loadtests/k6/. */
  k6Script: string;
  defaultDurationSec: number;
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
};

/** Share of answers that are neither 2xx nor an expected refusal (the status codes listed). */
export function unexpectedRate(stats: LoadStats, expected: number[]): number {
  let bad = stats.errors;
  for (const [status, count] of Object.entries(stats.statusCounts)) {
    if (!status.startsWith('2') && expected.includes(Number(status))) bad -= count;
  }
  const total = stats.requests || 1;
  return Math.max(0, bad) / total;
}

export function latencyThresholds(name: string, stats: LoadStats, p95: number, p99: number): Threshold[] {
  return [
    { name: `${name} p95 < ${p95} ms`, value: `${stats.p95.toFixed(1)} ms`, ok: stats.p95 < p95 },
    { name: `${name} p99 < ${p99} ms`, value: `${stats.p99.toFixed(1)} ms`, ok: stats.p99 < p99 },
  ];
}

export function errorThreshold(name: string, rate: number, max: number): Threshold {
  return {
    name: `${name} unexpected answers < ${max * 100}%`,
    value: `${(rate * 100).toFixed(3)}%`,
    ok: rate < max,
  };
}

export const json = { 'content-type': 'application/json' };
