// Scenario 4: a read storm on product.top. Sales are made first through the API (charge, order,
// pay) with a known number of units per product, ties included; nothing sells during the
// storm, so every single answer must be exactly the contract's ranking of those sales.
import { mapLimit } from '../lib/client.ts';
import { runLoad } from '../lib/load.ts';
import { chargeUsers, createProduct, type Product } from '../lib/seed.ts';
import { mintTokens } from '../lib/token.ts';
import { expectedTop } from './mixed.ts';
import {
  errorThreshold,
  latencyThresholds,
  type Scenario,
  type ScenarioResult,
  unexpectedRate,
} from './types.ts';

const PRODUCTS = 8;
const FIRST_USER = 4_000_000;
// Units sold per product, in creation order: a tie (5, 5) decided by the lower id, and more
// products than the top 5 shows.
const SOLD = [3, 9, 5, 1, 5, 12, 2, 7];

export const topStorm: Scenario = {
  name: 'top-storm',
  description: 'a read storm on product.top after known sales',
  k6Script: 'loadtests/k6/top-storm.js',
  defaultDurationSec: 15,
  async run(ctx): Promise<ScenarioResult> {
    const products: Product[] = [];
    for (let i = 0; i < PRODUCTS; i++) {
      products.push(
        await createProduct(ctx.api, ctx.admin, { name: `top ${i + 1}`, price: 1000, stock: 100 }),
      );
    }
    // One buyer per unit keeps every order at one line of one unit.
    const buyers = SOLD.flatMap((units, i) => Array.from({ length: units }, () => products[i]!.id));
    const tokens = mintTokens(ctx.secret, FIRST_USER, buyers.length);
    await chargeUsers(ctx.api, tokens, 10_000);
    await mapLimit(buyers, 16, async (productId, i) => {
      const order = await ctx.api.mutate<{ orderId: string }>(
        'order.create',
        { items: [{ productId, quantity: 1 }] },
        tokens[i],
      );
      await ctx.api.mutate('payment.pay', { orderId: order.orderId }, tokens[i]);
    });
    const paid = new Map(products.map((p, i) => [p.id, SOLD[i]!]));
    const expected = expectedTop(paid, products).map(({ productId, soldQuantity }) => {
      const p = products.find((x) => x.id === productId)!;
      return { productId, name: p.name, price: p.price, soldQuantity };
    });
    await new Promise((r) => setTimeout(r, 1500)); // let any cached ranking expire
    // The first answer must be the ranking (compared as data); every later one must be that
    // exact body (compared as text, which costs the load generator nothing).
    const res = await fetch(`${ctx.url}/trpc/product.top`);
    const expectedBody = await res.text();
    const violations: string[] = [];
    const first = JSON.parse(expectedBody)?.result?.data?.items;
    const sameItems =
      Array.isArray(first) &&
      first.length === expected.length &&
      first.every(
        (item: Record<string, unknown>, i: number) =>
          Object.keys(item).length === 4 && Object.entries(expected[i]!).every(([k, v]) => item[k] === v),
      );
    if (!sameItems)
      violations.push(`product.top answered ${expectedBody}, the sales say ${JSON.stringify(expected)}`);
    ctx.log(`${buyers.length} paid orders over ${PRODUCTS} products; product.top: ${expectedBody}`);

    let wrong = 0;
    let firstWrong: string | undefined;
    const stats = await runLoad({
      url: ctx.url,
      connections: ctx.connections,
      durationSec: ctx.durationSec,
      next: () => ({ method: 'GET', path: '/trpc/product.top' }),
      onResponse: (status, body) => {
        if (status === 200 && body !== expectedBody) {
          wrong++;
          firstWrong ??= body;
        }
      },
    });
    if (wrong > 0)
      violations.push(`${wrong} answers differ from the ranking of the sales, e.g. ${firstWrong}`);
    const rate = unexpectedRate(stats, []);
    return {
      stats: [{ name: 'product.top', stats }],
      thresholds: [
        ...latencyThresholds('product.top', stats, 25, 50),
        errorThreshold('product.top', rate, 0.0001),
      ],
      violations,
      notes: [
        `every one of ${stats.requests.toLocaleString('en-US')} answers compared with the expected ranking`,
      ],
    };
  },
};
