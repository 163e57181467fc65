// coupon-flash-crowd with autocannon: loadtests/scenarios/coupon-flash-crowd.js defines it.
import { runLoad } from '../lib/load.ts';
import * as crowd from '../scenarios/coupon-flash-crowd.js';
import { isExpected } from '../scenarios/trpc.js';
import { judgeThresholds, type Scenario } from './driver.ts';

export const couponFlashCrowd: Scenario = {
  name: crowd.name,
  description: crowd.description,
  k6Script: 'loadtests/k6/coupon-flash-crowd.js',
  defaultDurationSec: crowd.shape.durationSec,
  async run(ctx) {
    const s = ctx.shape(crowd.shape);
    const { couponId } = await ctx.http.ok(crowd.createCoupon(s));
    ctx.log(`coupon ${couponId} (${s.quantity} to give), ${s.users} users`);

    const toldIssued = new Set<number>();
    const codes: Record<string, number> = {};
    let unexpected = 0;
    const stats = await runLoad({
      url: ctx.url,
      connections: ctx.connections,
      durationSec: ctx.durationSec,
      next: (c) => {
        const call = crowd.nextIssue(s, couponId, Math.random);
        c.user = call.user;
        return ctx.http.spec(call);
      },
      onResponse: (status, body, c) => {
        if (!isExpected(status, body, crowd.refusals)) unexpected++;
        if (status === 200) toldIssued.add(c.user);
        else {
          const code = /"appCode":"([A-Z_]+)"/.exec(body)?.[1] ?? `HTTP ${status}`;
          codes[code] = (codes[code] ?? 0) + 1;
        }
      },
    });

    const calls = crowd.closingCalls(s);
    const answers = await ctx.http.sendAll(calls);
    const mine = answers.map((a, i) => ({ ...a, user: calls[i]!.user }));
    const newcomer = await ctx.http.send(crowd.newcomerCall(s, couponId));
    const { violations, holders } = crowd.verdict(s, couponId, mine, newcomer, toldIssued);
    return {
      stats: [{ name: 'coupon.issue', stats }],
      thresholds: judgeThresholds(crowd.thresholds, stats, unexpected),
      violations,
      notes: [
        `shape: ${JSON.stringify(s)}`,
        `${toldIssued.size} users answered ISSUED, ${holders} holders found through coupon.mine`,
        `refusals: ${Object.entries(codes)
          .map(([c, n]) => `${c} ${n}`)
          .join(', ')}`,
      ],
    };
  },
};
