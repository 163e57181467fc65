// The Node side of a load-test scenario: sends the calls a scenario module
// (loadtests/scenarios/*.js) describes, over fetch for setup and checks and through autocannon
// for the load, with a bearer token per user, and judges the thresholds the module states.

import { mapLimit } from '../lib/client.ts';
import type { RunEnv } from '../lib/env.ts';
import type { LoadStats, RequestSpec } from '../lib/load.ts';
import { mintToken } from '../lib/token.ts';
import type { Call } from '../scenarios/trpc.js';

export type Answer = { status: number; body: string };

export type Http = {
  /** Sends one call (its user's token, or the admin's) and returns the answer, whatever its status. */
  send(call: Call): Promise<Answer>;
  /** Like send, for many calls, at most `limit` in flight; answers in the calls' order. */
  sendAll(calls: Call[], limit?: number): Promise<Answer[]>;
  /** Sends a call that must succeed (setup): its parsed `data`, or throws with the answer. */
  ok<T = any>(call: Call): Promise<T>;
  /** The call as autocannon sends it. */
  spec(call: Call): RequestSpec;
};

export function httpFor(url: string, secret: string): Http {
  const tokens = new Map<number, string>();
  const admin = `Bearer ${mintToken(secret, 1, { admin: true, ttlSeconds: 6 * 3600 })}`;
  const bearer = (user: number) => {
    let token = tokens.get(user);
    if (!token) {
      token = `Bearer ${mintToken(secret, user)}`;
      tokens.set(user, token);
    }
    return token;
  };
  const headers = (call: Call): Record<string, string> => {
    const h: Record<string, string> = call.body === undefined ? {} : { 'content-type': 'application/json' };
    if (call.admin) h.authorization = admin;
    else if (call.user !== undefined) h.authorization = bearer(call.user);
    return h;
  };
  const send = async (call: Call): Promise<Answer> => {
    const res = await fetch(`${url}${call.path}`, {
      method: call.method,
      headers: headers(call),
      body: call.body,
    });
    return { status: res.status, body: await res.text() };
  };
  return {
    send,
    sendAll: (calls, limit = 32) => mapLimit(calls, limit, send),
    async ok(call) {
      const answer = await send(call);
      if (answer.status !== 200) throw new Error(`${call.procedure}: HTTP ${answer.status} ${answer.body}`);
      return JSON.parse(answer.body).result.data;
    },
    spec: (call) => ({ method: call.method, path: call.path, headers: headers(call), body: call.body }),
  };
}

export type ScenarioContext = {
  run: RunEnv;
  url: string;
  http: Http;
  durationSec: number;
  connections: number;
  /** The service's processes (api, worker, and redis when the run has a Redis of its own). */
  pids: Record<string, number | undefined>;
  /** Other products sell in the same database (the bench's sale row): product.top is not the sale's alone. */
  sharedDatabase?: boolean;
  /** The scenario's shape with LOADTEST_<NAME> overrides (LOADTEST_USERS=2000), as k6's -e. */
  shape<T extends Record<string, number>>(shape: T): T;
  log(line: string): void;
};

/**
 * A threshold as k6 states them: a name, the measured value and whether it passed. `latency`
 * thresholds are the ones `--invariants-only` (CI) reports without failing on.
 */
export type Threshold = { name: string; value: string; ok: boolean; latency?: boolean };

export type ScenarioResult = {
  /** One line per request kind in the summary table. */
  stats: { name: string; stats: LoadStats }[];
  thresholds: Threshold[];
  /** Invariants checked through the API (the Postgres and Redis checks are the runner's). */
  violations: string[];
  /** Facts worth printing (sold out after N, orders paid, ...). */
  notes: string[];
  /** The run's own one-line description, when its shape differs from the default one. */
  description?: string;
  /** The JSON of an HTML report, to which the runner adds its store checks (lib/sale-report.ts). */
  report?: string;
};

export type Scenario = {
  name: string;
  description: string;
  /** The k6 script of the same scenario, under loadtests/k6/. */
  k6Script: string;
  defaultDurationSec: number;
  /** Sockets or virtual users when --connections is not given (100 otherwise). */
  defaultConnections?: number;
  /** Runs against a redis-server of its own when one is installed, so Redis's figures are the run's. */
  privateRedis?: boolean;
  /** Environment the service runs with for this scenario (ORDER_HOLD_SECONDS, ...). */
  serviceEnv?(): Record<string, string>;
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
};
