// The Node side of the sale rehearsal: sends the scenario modules' calls with a bearer token per
// user over a keep-alive pool of sockets, and the context and result of a run.
import http from 'node:http';
import { mapLimit } from '../lib/client.ts';
import type { RunEnv } from '../lib/env.ts';
import type { LoadStats } from '../lib/load.ts';
import { mintToken } from '../lib/token.ts';
import type { Call } from '../scenarios/trpc.js';

/** `status` 0: no answer (a socket error or a timeout, described in `body`). */
export type Answer = { status: number; body: string };

export type Http = {
  send(call: Call): Promise<Answer>;
  /** Like send, at most `limit` in flight; answers in the calls' order. */
  sendAll(calls: Call[], limit?: number): Promise<Answer[]>;
  /** A call that must succeed (setup): its `data`, or throws with the answer. */
  ok<T = any>(call: Call): Promise<T>;
  close(): void;
};

export function httpFor(url: string, secret: string, sockets = 32): Http {
  const agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  const { hostname, port } = new URL(url);
  const admin = `Bearer ${mintToken(secret, 1, { admin: true, ttlSeconds: 6 * 3600 })}`;
  const tokens = new Map<number, string>();
  const bearer = (user: number) => {
    const token = tokens.get(user) ?? `Bearer ${mintToken(secret, user)}`;
    tokens.set(user, token);
    return token;
  };
  const send = (call: Call) =>
    new Promise<Answer>((resolve) => {
      const headers: Record<string, string> = {};
      if (call.body !== undefined) headers['content-type'] = 'application/json';
      if (call.admin) headers.authorization = admin;
      else if (call.user !== undefined) headers.authorization = bearer(call.user);
      if (call.pass) headers['x-waiting-room-pass'] = call.pass;
      const options = { host: hostname, port, method: call.method, path: call.path, headers, agent };
      const req = http.request(options, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', (err) => resolve({ status: 0, body: String(err) }));
      });
      req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
      req.on('error', (err) => resolve({ status: 0, body: String(err) }));
      req.end(call.body);
    });
  return {
    send,
    sendAll: (calls, limit = 32) => mapLimit(calls, limit, send),
    async ok(call) {
      const a = await send(call);
      if (a.status !== 200) throw new Error(`${call.procedure}: HTTP ${a.status} ${a.body}`);
      return JSON.parse(a.body).result.data;
    },
    close: () => agent.destroy(),
  };
}

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
