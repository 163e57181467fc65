// The API's wire format over HTTP, once: `httpFor` sends the scenario modules' calls over a
// keep-alive pool with the caller's bearer token (minted per user, or the call's own), and
// `apiClient` is the same for calls that must succeed (the benchmark's seeding, the store checks).
import http from 'node:http';
import { appCodeOf, type Call, mutation, query } from '../scenarios/trpc.js';
import { mintToken } from './token.ts';

/** `status` 0: no answer (a socket error or a timeout, described in `body`). */
export type Answer = { status: number; body: string };

export type Http = {
  send(call: Call): Promise<Answer>;
  /** Like send, at most `limit` in flight; answers in the calls' order. */
  sendAll(calls: Call[], limit?: number): Promise<Answer[]>;
  /** A call that must succeed: its `data`, or throws with the answer. */
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
      if (call.token) headers.authorization = `Bearer ${call.token}`;
      else if (call.admin) headers.authorization = admin;
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
      if (a.status !== 200)
        throw new Error(`${call.procedure}: HTTP ${a.status}: ${appCodeOf(a.body) ?? a.body}`);
      return JSON.parse(a.body).result.data;
    },
    close: () => agent.destroy(),
  };
}

export type Api = {
  query<T = any>(path: string, input?: unknown, token?: string): Promise<T>;
  mutate<T = any>(path: string, input?: unknown, token?: string): Promise<T>;
};

/** Calls by procedure path with a token of the caller's: their `data`, or an error with the appCode. */
export function apiClient(baseUrl: string): Api {
  const client = httpFor(baseUrl, '', 256);
  return {
    query: (path, input, token) => client.ok({ ...query(path as never, input as never), token }),
    mutate: (path, input, token) => client.ok({ ...mutation(path as never, (input ?? {}) as never), token }),
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
