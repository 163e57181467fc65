// API_PROCESSES=2: the real API entry (as `pnpm start` and the Docker image run it) forks two
// processes on one port. Requests on fresh connections reach both, the per-user rate limit holds
// across them (its buckets are in Redis), /metrics counts both, and SIGTERM stops all of them.
import { signToken } from '@flash/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Child, startChild } from '../../../test/processes.ts';
import { createTestEnv, type TestEnv } from '../../../test/support.ts';
import { waitFor } from './faults-helpers.ts';

const BURST = 3;

/** Each request on a connection of its own, so the supervisor hands each out anew. */
async function fresh(url: string, init: RequestInit = {}) {
  const res = await fetch(url, { ...init, headers: { ...init.headers, connection: 'close' } });
  return { status: res.status, text: await res.text() };
}

/** Pids of the processes that logged a request for `path`. */
function servingPids(output: string, path: string): Set<number> {
  const pids = new Set<number>();
  for (const line of output.split('\n')) {
    if (!line.includes('"msg":"request"')) continue;
    const pid = /"pid":(\d+)/.exec(line)?.[1];
    if (pid && line.includes(path)) pids.add(Number(pid));
  }
  return pids;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('API_PROCESSES=2', () => {
  let env: TestEnv;
  let api: Child & { url: string };
  let copies: number[];

  beforeAll(async () => {
    env = await createTestEnv({
      API_PROCESSES: '2',
      // Info level: every request is logged with the pid that served it.
      LOG_LEVEL: 'info',
      RATE_LIMIT_USER_PER_SEC: '0.01',
      RATE_LIMIT_USER_BURST: String(BURST),
    });
    const child = startChild('api', { ...env.childEnv, PORT: '0', HOST: '127.0.0.1' });
    // Two processes load the sources at once: on a busy machine that takes a while.
    await waitFor(
      'both API processes to listen',
      () => child.output().match(/listening on/g)?.length === 2,
      90_000,
    );
    api = { ...child, url: /listening on (http:\/\/[\d.:]+)/.exec(child.output())![1]! };
    const listed = /api: 2 processes \((\d+), (\d+)\)/.exec(api.output());
    expect(listed).not.toBeNull();
    copies = [Number(listed![1]), Number(listed![2])];
  }, 120_000);

  afterAll(async () => {
    await api?.kill('SIGKILL');
    for (const pid of copies ?? []) if (alive(pid)) process.kill(pid, 'SIGKILL');
    await env?.cleanup();
  });

  it('serves requests from both processes on the one port', async () => {
    // product.list, not /healthz: health checks are logged at debug only.
    for (let i = 0; i < 20; i++) expect((await fresh(`${api.url}/trpc/product.list`)).status).toBe(200);
    await expect
      .poll(() => [...servingPids(api.output(), '/trpc/product.list')].sort(), { timeout: 5_000 })
      .toEqual([...copies].sort());
  });

  it('holds a per-user rate limit across processes, and /metrics counts both', async () => {
    const token = await signToken(env.config.jwtSecret, 4242);
    const answers = [];
    for (let i = 0; i < 12; i++) {
      answers.push(
        await fresh(`${api.url}/trpc/balance.charge`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ amount: 1000, idempotencyKey: `p-${i}` }),
        }),
      );
    }
    const ok = answers.filter((a) => a.status === 200).length;
    const limited = answers.filter((a) => a.status === 429 && a.text.includes('RATE_LIMITED')).length;
    // One bucket for the user whichever process answers: the burst, not twice the burst.
    expect(ok).toBe(BURST);
    expect(limited).toBe(12 - BURST);
    expect(servingPids(api.output(), '/trpc/balance.charge').size).toBe(2);

    const metrics = await fresh(`${api.url}/metrics`);
    expect(metrics.status).toBe(200);
    const count =
      /flash_procedure_duration_seconds_count\{procedure="balance.charge",outcome="ok"\} (\d+)/.exec(
        metrics.text,
      );
    expect(Number(count?.[1])).toBe(BURST);
    // A gauge every process reads is reported once, not summed (Redis may be slow to answer
    // the queue reads on a busy machine: 0 is an honest answer then).
    expect(metrics.text).toMatch(/^flash_queue_up [01]$/m);
  });

  it('stops every process on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => api.process.once('exit', (code) => resolve(code)));
    api.process.kill('SIGTERM');
    expect(await exited).toBe(0);
    await expect.poll(() => copies.filter(alive), { timeout: 20_000 }).toEqual([]);
  });
});
