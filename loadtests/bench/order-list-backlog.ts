// How long `order.list` takes for one user while other users' orders wait unsaved in Redis
// (answered from the hold, the worker not running): the read must save the caller's orders
// first, and only the caller's (order.persist.ts, saveUnsavedOrdersOf).
//   node loadtests/bench/order-list-backlog.ts [waiting=50000] [rounds=5]
// Runs on a fresh database and key prefix (dropped afterwards); prints one line per round.
import { createRuntime } from '@flash/core';
import { createOrder, listOrders } from '@flash/core/order/order.service';
import { countUnsavedOrders } from '@flash/core/order/order.store';
import { createProduct } from '@flash/core/product/product.service';
import { createRunEnv } from '../lib/env.ts';

const waiting = Number(process.argv[2] ?? 50_000);
const rounds = Number(process.argv[3] ?? 5);
if (!Number.isSafeInteger(waiting) || waiting < 0 || !Number.isSafeInteger(rounds) || rounds < 1) {
  throw new Error('usage: order-list-backlog.ts [waiting >= 0] [rounds >= 1]');
}

const run = await createRunEnv('listbacklog');
const rt = await createRuntime(run.config, { name: 'order-list-backlog' });
try {
  const product = await createProduct(rt, { name: 'backlog', price: 1_000, stock: waiting + rounds });
  const started = performance.now();
  const firstOther = 1_000;
  for (let done = 0; done < waiting; ) {
    const batch = Math.min(500, waiting - done);
    await Promise.all(
      Array.from({ length: batch }, (_, i) =>
        createOrder(rt, firstOther + done + i, { items: [{ productId: product.id, quantity: 1 }] }),
      ),
    );
    done += batch;
    if (done % 10_000 === 0 || done === waiting) {
      console.log(
        `[backlog] ${done.toLocaleString('en-US')} of ${waiting.toLocaleString('en-US')} orders answered`,
      );
    }
  }
  console.log(`[backlog] answered in ${((performance.now() - started) / 1000).toFixed(1)} s; none saved yet`);
  for (let round = 1; round <= rounds; round++) {
    // A user with one order answered moments ago, as a buyer checking "my orders" would be.
    const me = round;
    await createOrder(rt, me, { items: [{ productId: product.id, quantity: 1 }] });
    const t = performance.now();
    const listed = await listOrders(rt, me, { limit: 10 });
    const ms = performance.now() - t;
    const left = await countUnsavedOrders(rt.redis, rt.keys);
    console.log(
      `order.list round ${round}: ${ms.toFixed(1)} ms, ${listed.items.length} listed, ` +
        `${left.toLocaleString('en-US')} other orders still unsaved`,
    );
  }
} finally {
  await rt.close();
  await run.cleanup();
}
