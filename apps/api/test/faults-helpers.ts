// Small helpers shared by the fault tests (apps/*/test/faults-*.test.ts).
import { type Child, httpCall, startApi, startChild } from '../../../test/processes.ts';
import { type PrivateRedis, startPrivateRedis } from '../../../test/redis-server.ts';
import { createTestRuntime, type TestRuntime } from '../../../test/support.ts';

/** Polls until `check` returns a truthy value (usable in hooks, where expect.poll is not). */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 20_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`, { cause: last });
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Resolves once a worker process has started its BullMQ workers. */
export async function workerReady(worker: Child): Promise<void> {
  await waitFor('the worker to start', () => worker.output().includes('worker draining'));
}

export { runBin } from '../../../test/processes.ts';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `tasks` with at most `concurrency` in flight (a crowd of clients, bounded by sockets). */
export async function runCrowd<T>(tasks: (() => Promise<T>)[], concurrency: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, tasks.length) }, async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]!();
    }
  });
  await Promise.all(lanes);
  return results;
}

/**
 * An HTTP answer; `undefined` when none came (the process died with the request in flight: it
 * may or may not have happened); `null` when the connection was refused (it never reached a
 * process, so it certainly did not happen).
 */
export type Answer = { status: number; body: any } | undefined | null;

/** Like httpCall, but a request that gets no answer resolves as described for Answer instead of throwing. */
export async function tryCall(call: () => Promise<{ status: number; body: any }>): Promise<Answer> {
  try {
    return await call();
  } catch (err) {
    return (err as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED' ? null : undefined;
  }
}

/** Creates, through the API, the coupon and the product a fault test's sale runs on. */
export async function seedSale(
  url: string,
  adminToken: string,
  sale: { name: string; quantity: number; stock: number },
): Promise<{ couponId: number; productId: number }> {
  const coupon = await httpCall(
    url,
    'mutation',
    'admin.coupon.create',
    { name: sale.name, discount: { type: 'FIXED', value: 100 }, totalQuantity: sale.quantity },
    adminToken,
  );
  const product = await httpCall(
    url,
    'mutation',
    'admin.product.create',
    { name: sale.name, price: 1_000, stock: sale.stock },
    adminToken,
  );
  return { couponId: coupon.body.result.data.couponId, productId: product.body.result.data.id };
}

/** A real API and worker on a private redis-server (which the test may flush or restart). */
export type PrivateStack = {
  redis: PrivateRedis;
  env: TestRuntime;
  api: Child & { url: string };
  worker: Child;
};

export async function startPrivateStack(): Promise<PrivateStack> {
  const stack: Partial<PrivateStack> = {};
  try {
    stack.redis = await startPrivateRedis();
    // One address for every simulated client: the per-IP limit is not what these tests are about.
    stack.env = await createTestRuntime({
      overrides: { REDIS_URL: stack.redis.url, RATE_LIMIT_IP_PER_SEC: '0' },
    });
    stack.api = await startApi(stack.env.childEnv);
    stack.worker = startChild('worker', stack.env.childEnv);
    await workerReady(stack.worker);
    return stack as PrivateStack;
  } catch (err) {
    // The caller's afterAll never learns what was started: stop it here.
    await stopPrivateStack(stack);
    throw err;
  }
}

export async function stopPrivateStack(stack: Partial<PrivateStack>): Promise<void> {
  if (process.env.FAULTS_DEBUG) console.log(stack.api?.output(), stack.worker?.output());
  await stack.api?.kill();
  await stack.worker?.kill();
  await stack.env?.cleanup();
  await stack.redis?.stop();
}
