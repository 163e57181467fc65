// The Node driver's context and result; httpFor (lib/client.ts) sends its calls.
import type { Http } from '../lib/client.ts';
import type { RunEnv } from '../lib/env.ts';
import type { LoadStats } from '../lib/load.ts';

export { type Answer, type Http, httpFor } from '../lib/client.ts';

export type ScenarioContext = {
  run: RunEnv;
  url: string;
  /** For setup and the closing calls; the journeys get a pool of `connections` sockets. */
  http: Http;
  durationSec: number;
  connections: number;
  /** The processes whose CPU is followed (api, worker, and redis when the run has its own). */
  pids: Record<string, number | undefined>;
  /** Other products sell in the same database (the bench's sale row): product.top is not the sale's alone. */
  sharedDatabase?: boolean;
  /** The shape with overrides (LOADTEST_<NAME>). */
  shape<T extends Record<string, number>>(shape: T): T;
  log(line: string): void;
};

/** A threshold judged: `latency` ones are reported, not judged, with --invariants-only (CI). */
export type Threshold = { name: string; value: string; ok: boolean; latency?: boolean };

export type ScenarioResult = {
  /** Per step, and last the journey's calls together. */
  stats: { name: string; stats: LoadStats }[];
  thresholds: Threshold[];
  /** Invariants checked through the API (the Postgres and Redis checks are the runner's). */
  violations: string[];
  /** `report: <the HTML report>`. */
  notes: string[];
  /** The report's JSON, to which the runner adds its store checks and the profile. */
  report: string;
};

export type Scenario = { defaultConnections: number; run(ctx: ScenarioContext): Promise<ScenarioResult> };
