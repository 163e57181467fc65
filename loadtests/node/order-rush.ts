// Scenario 2: an order rush on one hot product with little stock. Random users order 1 or 2
// units until it is gone, then keep trying (OUT_OF_STOCK). While the rush runs, product.get is
// sampled: the stock it shows must never be negative. Closing check through the API: the units
// of every order the users hold plus what product.get still offers equal the initial stock.
import { mapLimit } from '../lib/client.ts';
import { runLoad } from '../lib/load.ts';
import { createProduct } from '../lib/seed.ts';
import { mintTokens } from '../lib/token.ts';
import {
  errorThreshold,
  json,
  latencyThresholds,
  type Scenario,
  type ScenarioResult,
  unexpectedRate,
} from './types.ts';

const STOCK = 2000;
const USERS = 5000;
const FIRST_USER = 2_000_000;

type Order = { orderId: string; status: string; items: { productId: number; quantity: number }[] };

export async function allOrders(api: import('../lib/client.ts').Api, token: string): Promise<Order[]> {
  const orders: Order[] = [];
  let cursor: string | undefined;
  do {
    const page = await api.query<{ items: Order[]; nextCursor: string | null }>(
      'order.list',
      { cursor, limit: 100 },
      token,
    );
    orders.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return orders;
}

export const orderRush: Scenario = {
  name: 'order-rush',
  description: `${USERS.toLocaleString('en-US')} users rush ${STOCK.toLocaleString('en-US')} units of one product`,
  k6Script: 'loadtests/k6/order-rush.js',
  defaultDurationSec: 15,
  async run(ctx): Promise<ScenarioResult> {
    const product = await createProduct(ctx.api, ctx.admin, {
      name: 'hot product',
      price: 10_000,
      stock: STOCK,
    });
    const tokens = mintTokens(ctx.secret, FIRST_USER, USERS);
    ctx.log(`product ${product.id} with ${STOCK} units, ${USERS} users`);

    const violations: string[] = [];
    let lowest = STOCK;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const { stock } = await ctx.api.query<{ stock: number }>('product.get', { productId: product.id });
        lowest = Math.min(lowest, stock);
        if (stock < 0) violations.push(`product.get showed stock ${stock} during the rush`);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    const bodies = [1, 2].map((quantity) => JSON.stringify({ items: [{ productId: product.id, quantity }] }));
    let orderedUnits = 0;
    const stats = await runLoad({
      url: ctx.url,
      connections: ctx.connections,
      durationSec: ctx.durationSec,
      next: (c) => {
        const user = Math.floor(Math.random() * USERS);
        c.quantity = 1 + (user % 2);
        return {
          method: 'POST',
          path: '/trpc/order.create',
          headers: { ...json, authorization: `Bearer ${tokens[user]}` },
          body: bodies[c.quantity - 1],
        };
      },
      onResponse: (status, _text, c) => {
        if (status === 200) orderedUnits += c.quantity;
      },
    });
    sampling = false;
    await sampler;

    // Through the API: every user's orders, and what is still on offer.
    let heldOrSold = 0;
    await mapLimit(tokens, 32, async (token) => {
      for (const order of await allOrders(ctx.api, token)) {
        if (order.status !== 'PENDING_PAYMENT' && order.status !== 'PAID') continue;
        for (const line of order.items) if (line.productId === product.id) heldOrSold += line.quantity;
      }
    });
    const { stock } = await ctx.api.query<{ stock: number }>('product.get', { productId: product.id });
    if (stock < 0) violations.push(`product ${product.id} ends with stock ${stock}`);
    if (heldOrSold + stock !== STOCK) {
      violations.push(`orders hold ${heldOrSold} units and ${stock} remain, but ${STOCK} were stocked`);
    }
    if (orderedUnits > heldOrSold)
      violations.push(`clients were confirmed ${orderedUnits} units, orders hold ${heldOrSold}`);

    const rate = unexpectedRate(stats, [409]);
    return {
      stats: [{ name: 'order.create', stats }],
      thresholds: [
        ...latencyThresholds('order.create', stats, 250, 500),
        errorThreshold('order.create', rate, 0.001),
      ],
      violations,
      notes: [
        `${orderedUnits} units confirmed to clients, ${heldOrSold} held by orders, ${stock} left, lowest stock seen ${lowest}`,
      ],
    };
  },
};
