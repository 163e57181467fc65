// mixed with autocannon: loadtests/scenarios/mixed.js defines it.
import { mapLimit } from '../lib/client.ts';
import { runLoad } from '../lib/load.ts';
import * as mixedScenario from '../scenarios/mixed.js';
import { isExpected, TOP_CACHE_MS } from '../scenarios/trpc.js';
import { allOrders, judgeThresholds, type Scenario } from './driver.ts';

export const mixed: Scenario = {
  name: mixedScenario.name,
  description: mixedScenario.description,
  k6Script: 'loadtests/k6/mixed.js',
  defaultDurationSec: mixedScenario.shape.durationSec,
  async run(ctx) {
    const m = mixedScenario;
    const s = ctx.shape(m.shape);
    const productIds: number[] = [];
    for (const call of m.createProducts(s)) productIds.push((await ctx.http.ok(call)).id);
    ctx.log(`${s.products} products of ${s.stock} units, ${s.users} users`);

    const state = m.newState();
    const kinds: Record<string, number> = {};
    let unexpected = 0;
    const stats = await runLoad({
      url: ctx.url,
      connections: ctx.connections,
      durationSec: ctx.durationSec,
      next: (c) => {
        const call = m.nextCall(s, state, productIds, ctx.run.id, Math.random);
        c.call = call;
        return ctx.http.spec(call);
      },
      onResponse: (status, body, c) => {
        if (!isExpected(status, body, m.refusals)) unexpected++;
        if (status === 200) kinds[c.call.kind] = (kinds[c.call.kind] ?? 0) + 1;
        m.onAnswer(state, c.call, status, body);
      },
    });

    const replays = await ctx.http.sendAll(m.replayCharges(s, ctx.run.id));
    const failed = replays.filter((a) => a.status !== 200);
    const violations = failed.slice(0, 5).map((a) => `a charge replay answered HTTP ${a.status} ${a.body}`);
    const tally = m.newTally(productIds);
    await mapLimit(m.users(s), 32, async (user) => {
      const orders = await allOrders(ctx.http, user);
      const balance = await ctx.http.send(m.balanceCall(user));
      violations.push(...m.userVerdict(s, tally, user, orders, balance.body));
    });
    const stock = await ctx.http.sendAll(productIds.map((productId) => m.stockCall(productId)));
    violations.push(
      ...m.stockVerdict(
        s,
        tally,
        stock.map((a, i) => ({ productId: productIds[i]!, body: a.body })),
      ),
    );
    await new Promise((r) => setTimeout(r, TOP_CACHE_MS));
    violations.push(...m.topVerdict(tally, (await ctx.http.send(m.topCall)).body));
    return {
      stats: [{ name: 'mixed (all kinds)', stats }],
      thresholds: judgeThresholds(m.thresholds, stats, unexpected),
      violations,
      notes: [
        `shape: ${JSON.stringify(s)}`,
        `successes by kind: ${Object.entries(kinds)
          .map(([k, n]) => `${k} ${n}`)
          .join(', ')}; ${replays.length} charge keys replayed`,
      ],
    };
  },
};
