// top-storm with autocannon: loadtests/scenarios/top-storm.js defines it.
import { mapLimit } from '../lib/client.ts';
import { runLoad } from '../lib/load.ts';
import * as storm from '../scenarios/top-storm.js';
import { isExpected, TOP_CACHE_MS } from '../scenarios/trpc.js';
import { judgeThresholds, type Scenario } from './driver.ts';

export const topStorm: Scenario = {
  name: storm.name,
  description: storm.description,
  k6Script: 'loadtests/k6/top-storm.js',
  defaultDurationSec: storm.shape.durationSec,
  async run(ctx) {
    const s = ctx.shape(storm.shape);
    const products = [];
    for (const call of storm.createProducts()) products.push(await ctx.http.ok(call));
    const sales = storm.purchases(
      s,
      products.map((p) => p.id),
    );
    await mapLimit(sales, 16, async (sale) => {
      await ctx.http.ok(sale.charge);
      const order = await ctx.http.send(sale.order);
      if (order.status !== 200) throw new Error(`order.create: HTTP ${order.status} ${order.body}`);
      await ctx.http.ok(storm.payCall(sale.user, order.body));
    });
    await new Promise((r) => setTimeout(r, TOP_CACHE_MS));
    const first = await ctx.http.send(storm.topCall);
    const violations = storm.verdictFirst(first.body, storm.expectedTop(products));
    ctx.log(`${sales.length} paid orders over ${products.length} products; product.top: ${first.body}`);

    // Every later answer must be that exact body (compared as text, cheap for the load generator).
    let wrong = 0;
    let example: string | undefined;
    let unexpected = 0;
    const stats = await runLoad({
      url: ctx.url,
      connections: ctx.connections,
      durationSec: ctx.durationSec,
      next: () => ctx.http.spec(storm.topCall),
      onResponse: (status, body) => {
        if (!isExpected(status, body, storm.refusals)) unexpected++;
        if (status === 200 && body !== first.body) {
          wrong++;
          example ??= body;
        }
      },
    });
    violations.push(...storm.verdictStorm(wrong, example));
    return {
      stats: [{ name: 'product.top', stats }],
      thresholds: judgeThresholds(storm.thresholds, stats, unexpected),
      violations,
      notes: [
        `shape: ${JSON.stringify(s)}`,
        `every one of ${stats.requests.toLocaleString('en-US')} answers compared with the expected ranking`,
      ],
    };
  },
};
