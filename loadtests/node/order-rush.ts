// order-rush with autocannon: loadtests/scenarios/order-rush.js defines it.
import { mapLimit } from '../lib/client.ts';
import { runLoad } from '../lib/load.ts';
import * as rush from '../scenarios/order-rush.js';
import { isExpected } from '../scenarios/trpc.js';
import { allOrders, judgeThresholds, type Scenario } from './driver.ts';

export const orderRush: Scenario = {
  name: rush.name,
  description: rush.description,
  k6Script: 'loadtests/k6/order-rush.js',
  defaultDurationSec: rush.shape.durationSec,
  async run(ctx) {
    const s = ctx.shape(rush.shape);
    const product = await ctx.http.ok(rush.createProduct(s));
    ctx.log(`product ${product.id} with ${s.stock} units, ${s.users} users`);

    let lowestSeen = s.stock;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const answer = await ctx.http.send(rush.stockCall(product.id));
        if (answer.status === 200) lowestSeen = Math.min(lowestSeen, rush.stockOf(answer.body));
        await new Promise((r) => setTimeout(r, s.sampleEveryMs));
      }
    })();

    let confirmedUnits = 0;
    let unexpected = 0;
    const stats = await runLoad({
      url: ctx.url,
      connections: ctx.connections,
      durationSec: ctx.durationSec,
      next: (c) => {
        const call = rush.nextOrder(s, product.id, Math.random);
        c.units = call.units;
        return ctx.http.spec(call);
      },
      onResponse: (status, body, c) => {
        if (!isExpected(status, body, rush.refusals)) unexpected++;
        if (status === 200) confirmedUnits += c.units;
      },
    });
    sampling = false;
    await sampler;

    let unitsInOrders = 0;
    const users = Array.from({ length: s.users }, (_, i) => s.firstUser + i);
    await mapLimit(users, 32, async (user) => {
      const orders = await allOrders(ctx.http, user);
      unitsInOrders += rush.unitsInOrders(product.id, orders);
    });
    const stockLeft = rush.stockOf((await ctx.http.send(rush.stockCall(product.id))).body);
    return {
      stats: [{ name: 'order.create', stats }],
      thresholds: judgeThresholds(rush.thresholds, stats, unexpected),
      violations: rush.verdict(s, { unitsInOrders, stockLeft, lowestSeen, confirmedUnits }),
      notes: [
        `shape: ${JSON.stringify(s)}`,
        `${confirmedUnits} units confirmed to clients, ${unitsInOrders} held by orders, ${stockLeft} left, lowest stock seen ${lowestSeen}`,
      ],
    };
  },
};
