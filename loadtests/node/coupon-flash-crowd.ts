// Scenario 1: tens of thousands of users race for 1,000 coupons. Every request is a random user
// of the crowd (so some try twice); after the sell-out the crowd keeps hammering.
// Closing check through the API: every user's coupon.mine, so exactly `quantity` users hold
// the coupon, each once, and nobody was told ISSUED without holding it.
import { mapLimit } from '../lib/client.ts';
import { runLoad } from '../lib/load.ts';
import { createCoupon } from '../lib/seed.ts';
import { mintTokens } from '../lib/token.ts';
import {
  errorThreshold,
  json,
  latencyThresholds,
  type Scenario,
  type ScenarioResult,
  unexpectedRate,
} from './types.ts';

const QUANTITY = 1000;
const USERS = 20_000;
const FIRST_USER = 1_000_000;

export const couponFlashCrowd: Scenario = {
  name: 'coupon-flash-crowd',
  description: `${USERS.toLocaleString('en-US')} users race for ${QUANTITY.toLocaleString('en-US')} coupons`,
  k6Script: 'loadtests/k6/coupon-flash-crowd.js',
  defaultDurationSec: 15,
  async run(ctx): Promise<ScenarioResult> {
    const couponId = await createCoupon(ctx.api, ctx.admin, { name: 'flash crowd', totalQuantity: QUANTITY });
    const tokens = mintTokens(ctx.secret, FIRST_USER, USERS);
    ctx.log(`coupon ${couponId} (${QUANTITY} to give), ${USERS} users with a token each`);

    const body = JSON.stringify({ couponId });
    const issuedTo = new Set<number>();
    const codes: Record<string, number> = {};
    const stats = await runLoad({
      url: ctx.url,
      connections: ctx.connections,
      durationSec: ctx.durationSec,
      next: (c) => {
        const user = Math.floor(Math.random() * USERS);
        c.user = user;
        return {
          method: 'POST',
          path: '/trpc/coupon.issue',
          headers: { ...json, authorization: `Bearer ${tokens[user]}` },
          body,
        };
      },
      onResponse: (status, text, c) => {
        if (status === 200) issuedTo.add(c.user);
        else {
          const code = /"appCode":"([A-Z_]+)"/.exec(text)?.[1] ?? `HTTP ${status}`;
          codes[code] = (codes[code] ?? 0) + 1;
        }
      },
    });

    // Through the API: who holds the coupon, by asking every user of the crowd.
    const violations: string[] = [];
    let holders = 0;
    await mapLimit(tokens, 32, async (token, user) => {
      const mine = await ctx.api.query<{ items: { couponId: number }[] }>('coupon.mine', undefined, token);
      const held = mine.items.filter((i) => i.couponId === couponId).length;
      if (held > 1) violations.push(`user ${FIRST_USER + user} holds coupon ${couponId} ${held} times`);
      if (held === 1) holders++;
      if (held === 0 && issuedTo.has(user))
        violations.push(`user ${FIRST_USER + user} was told ISSUED but holds nothing`);
    });
    if (holders !== QUANTITY) violations.push(`${holders} users hold the coupon, quantity is ${QUANTITY}`);
    const late = await ctx.api
      .mutate('coupon.issue', { couponId }, mintTokens(ctx.secret, FIRST_USER + USERS, 1)[0])
      .then(
        () => 'ISSUED',
        (err: { appCode?: string }) => err.appCode,
      );
    if (late !== 'COUPON_SOLD_OUT')
      violations.push(`a newcomer after the sale got ${late}, not COUPON_SOLD_OUT`);

    const rate = unexpectedRate(stats, [409]);
    return {
      stats: [{ name: 'coupon.issue', stats }],
      thresholds: [
        ...latencyThresholds('coupon.issue', stats, 50, 100),
        errorThreshold('coupon.issue', rate, 0.001),
      ],
      violations,
      notes: [
        `${issuedTo.size} ISSUED answers seen, ${holders} holders found through coupon.mine`,
        `refusals: ${Object.entries(codes)
          .map(([c, n]) => `${c} ${n}`)
          .join(', ')}`,
      ],
    };
  },
};
