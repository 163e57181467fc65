// Scenario 3: mixed traffic of a sale: browse (product.list, product.get), the top 5, charge,
// order and pay, from a pool of users. Every mutation carries an idempotency key, so after the
// load stops the calls whose answer was cut off are replayed with their key: then the outcome of
// every charge, order and payment is known exactly. Closing check through the API: each user's
// balance is what they charged minus what they paid, each paid order was paid once for its
// amount, stock adds up, and product.top is the ranking of what was paid.
import { randomUUID } from 'node:crypto';
import { ApiError, mapLimit } from '../lib/client.ts';
import { runLoad } from '../lib/load.ts';
import { createProduct, type Product } from '../lib/seed.ts';
import { mintTokens } from '../lib/token.ts';
import { allOrders } from './order-rush.ts';
import {
  errorThreshold,
  json,
  latencyThresholds,
  type Scenario,
  type ScenarioResult,
  unexpectedRate,
} from './types.ts';

const USERS = 500;
const FIRST_USER = 3_000_000;
const PRODUCTS = 10;
const STOCK = 1000;
const CHARGE = 20_000;

type Kind = 'list' | 'get' | 'top' | 'charge' | 'order' | 'pay';
const MIX: [Kind, number][] = [
  ['list', 25],
  ['get', 20],
  ['top', 20],
  ['charge', 10],
  ['order', 15],
  ['pay', 10],
];

type Charge = { user: number; amount: number; ok?: boolean };
type OrderCall = { user: number; body: unknown; orderId?: string; payAmount?: number; refused?: boolean };
type PayCall = { user: number; orderId: string; amount?: number; refused?: string };

/** The contract's ranking of paid units: at most 5, most first, ties by lower product id. */
export function expectedTop(
  paidUnits: Map<number, number>,
  products: Product[],
): { productId: number; soldQuantity: number }[] {
  const names = new Map(products.map((p) => [p.id, p]));
  return [...paidUnits]
    .filter(([id, units]) => units > 0 && names.has(id))
    .sort((a, b) => b[1] - a[1] || a[0] - b[0])
    .slice(0, 5)
    .map(([productId, soldQuantity]) => ({ productId, soldQuantity }));
}

export const mixed: Scenario = {
  name: 'mixed',
  description: `browse, top 5, charge, order and pay from ${USERS} users`,
  k6Script: 'loadtests/k6/mixed.js',
  defaultDurationSec: 20,
  async run(ctx): Promise<ScenarioResult> {
    const products: Product[] = [];
    for (let i = 0; i < PRODUCTS; i++) {
      products.push(
        await createProduct(ctx.api, ctx.admin, {
          name: `mixed ${i + 1}`,
          price: 1000 * (1 + (i % 5)),
          stock: STOCK,
        }),
      );
    }
    const tokens = mintTokens(ctx.secret, FIRST_USER, USERS);
    ctx.log(`${PRODUCTS} products of ${STOCK} units, ${USERS} users`);

    const charges = new Map<string, Charge>();
    const orders = new Map<string, OrderCall>();
    const pays = new Map<string, PayCall>();
    const payable: { user: number; orderId: string }[] = [];
    const totalWeight = MIX.reduce((n, [, w]) => n + w, 0);
    const pick = (): Kind => {
      let r = Math.random() * totalWeight;
      for (const [kind, weight] of MIX) {
        r -= weight;
        if (r < 0) return kind;
      }
      return 'list';
    };
    const rnd = (n: number) => Math.floor(Math.random() * n);
    const auth = (user: number) => ({ ...json, authorization: `Bearer ${tokens[user]}` });

    const stats = await runLoad({
      url: ctx.url,
      connections: ctx.connections,
      durationSec: ctx.durationSec,
      next: (c) => {
        let kind = pick();
        if (kind === 'pay' && payable.length === 0) kind = 'order';
        c.kind = kind;
        const user = rnd(USERS);
        switch (kind) {
          case 'list':
            return { method: 'GET', path: `/trpc/product.list?input=${encodeURIComponent('{"limit":10}')}` };
          case 'get': {
            const input = encodeURIComponent(JSON.stringify({ productId: products[rnd(PRODUCTS)]!.id }));
            return { method: 'GET', path: `/trpc/product.get?input=${input}` };
          }
          case 'top':
            return { method: 'GET', path: '/trpc/product.top' };
          case 'charge': {
            const key = randomUUID();
            c.key = key;
            charges.set(key, { user, amount: CHARGE });
            return {
              method: 'POST',
              path: '/trpc/balance.charge',
              headers: auth(user),
              body: JSON.stringify({ amount: CHARGE, idempotencyKey: key }),
            };
          }
          case 'order': {
            const key = randomUUID();
            c.key = key;
            const first = rnd(PRODUCTS);
            const lines = [{ productId: products[first]!.id, quantity: 1 + rnd(2) }];
            if (Math.random() < 0.5) {
              lines.push({
                productId: products[(first + 1 + rnd(PRODUCTS - 1)) % PRODUCTS]!.id,
                quantity: 1,
              });
            }
            const body = { items: lines, idempotencyKey: key };
            orders.set(key, { user, body });
            return {
              method: 'POST',
              path: '/trpc/order.create',
              headers: auth(user),
              body: JSON.stringify(body),
            };
          }
          case 'pay': {
            const order = payable.splice(rnd(payable.length), 1)[0]!;
            const key = randomUUID();
            c.key = key;
            pays.set(key, { user: order.user, orderId: order.orderId });
            return {
              method: 'POST',
              path: '/trpc/payment.pay',
              headers: auth(order.user),
              body: JSON.stringify({ orderId: order.orderId, idempotencyKey: key }),
            };
          }
        }
      },
      onResponse: (status, text, c) => {
        if (c.kind === 'charge') {
          const charge = charges.get(c.key)!;
          if (status === 200) charge.ok = true;
          else if (status < 500) charge.ok = false;
        } else if (c.kind === 'order') {
          const order = orders.get(c.key)!;
          if (status === 200) {
            const data = JSON.parse(text).result.data;
            order.orderId = data.orderId;
            order.payAmount = data.payAmount;
            payable.push({ user: order.user, orderId: data.orderId });
          } else if (status < 500) order.refused = true;
        } else if (c.kind === 'pay') {
          const pay = pays.get(c.key)!;
          if (status === 200) pay.amount = JSON.parse(text).result.data.amount;
          else if (status < 500) {
            pay.refused = /"appCode":"([A-Z_]+)"/.exec(text)?.[1] ?? String(status);
            // Not enough balance yet: the order can be paid later, with a new key.
            if (pay.refused === 'INSUFFICIENT_BALANCE')
              payable.push({ user: pay.user, orderId: pay.orderId });
          }
        }
      },
    });

    // Replay, with their keys, the mutations whose answer the load generator never saw.
    const code = (err: unknown) =>
      err instanceof ApiError ? (err.appCode ?? String(err.status)) : 'NETWORK';
    let replayed = 0;
    for (const [key, charge] of charges) {
      if (charge.ok !== undefined) continue;
      replayed++;
      charge.ok = await ctx.api
        .mutate('balance.charge', { amount: charge.amount, idempotencyKey: key }, tokens[charge.user])
        .then(
          () => true,
          () => false,
        );
    }
    for (const order of orders.values()) {
      if (order.orderId || order.refused) continue;
      replayed++;
      await ctx.api
        .mutate<{ orderId: string; payAmount: number }>('order.create', order.body, tokens[order.user])
        .then(
          (data) => {
            order.orderId = data.orderId;
            order.payAmount = data.payAmount;
          },
          () => {
            order.refused = true;
          },
        );
    }
    for (const [key, pay] of pays) {
      if (pay.amount !== undefined || pay.refused) continue;
      replayed++;
      await ctx.api
        .mutate<{ amount: number }>(
          'payment.pay',
          { orderId: pay.orderId, idempotencyKey: key },
          tokens[pay.user],
        )
        .then(
          (data) => {
            pay.amount = data.amount;
          },
          (err) => {
            pay.refused = code(err);
          },
        );
    }

    // Through the API: balances, paid orders, stock and the ranking.
    const violations: string[] = [];
    const charged = new Map<number, number>();
    for (const c of charges.values()) if (c.ok) charged.set(c.user, (charged.get(c.user) ?? 0) + c.amount);
    const paidOrders = new Map<string, number>();
    const paidBy = new Map<number, number>();
    for (const p of pays.values()) {
      if (p.amount === undefined) continue;
      if (paidOrders.has(p.orderId)) violations.push(`order ${p.orderId} was paid twice`);
      paidOrders.set(p.orderId, p.amount);
      paidBy.set(p.user, (paidBy.get(p.user) ?? 0) + p.amount);
    }
    const units = new Map<number, { held: number; paid: number }>(
      products.map((p) => [p.id, { held: 0, paid: 0 }]),
    );
    await mapLimit(tokens, 32, async (token, user) => {
      const { balance } = await ctx.api.query<{ balance: number }>('balance.get', undefined, token);
      const expected = (charged.get(user) ?? 0) - (paidBy.get(user) ?? 0);
      if (balance !== expected)
        violations.push(`user ${FIRST_USER + user}: balance ${balance}, expected ${expected}`);
      for (const order of await allOrders(ctx.api, token)) {
        const paid = order.status === 'PAID';
        if (paid !== paidOrders.has(order.orderId)) {
          violations.push(
            `order ${order.orderId} is ${order.status} but ${paid ? 'no' : 'a'} payment succeeded`,
          );
        }
        if (order.status !== 'PAID' && order.status !== 'PENDING_PAYMENT') continue;
        for (const line of order.items) {
          const u = units.get(line.productId);
          if (u) u[paid ? 'paid' : 'held'] += line.quantity;
        }
      }
    });
    const paidUnits = new Map<number, number>();
    for (const p of products) {
      const { stock } = await ctx.api.query<{ stock: number }>('product.get', { productId: p.id });
      const u = units.get(p.id)!;
      paidUnits.set(p.id, u.paid);
      if (stock < 0 || stock + u.held + u.paid !== STOCK) {
        violations.push(`product ${p.id}: ${stock} on offer + ${u.held} held + ${u.paid} paid != ${STOCK}`);
      }
    }
    await new Promise((r) => setTimeout(r, 1500)); // product.top may be cached for a second
    const top = await ctx.api.query<{ items: { productId: number; soldQuantity: number }[] }>('product.top');
    const expected = expectedTop(paidUnits, products);
    const actual = top.items.map((i) => ({ productId: i.productId, soldQuantity: i.soldQuantity }));
    if (JSON.stringify(actual) !== JSON.stringify(expected)) {
      violations.push(
        `product.top is ${JSON.stringify(actual)}, paid orders say ${JSON.stringify(expected)}`,
      );
    }

    const rate = unexpectedRate(stats, [409]);
    const okCharges = [...charges.values()].filter((c) => c.ok).length;
    const okOrders = [...orders.values()].filter((o) => o.orderId).length;
    return {
      stats: [{ name: 'mixed (all kinds)', stats }],
      thresholds: [...latencyThresholds('mixed', stats, 500, 1000), errorThreshold('mixed', rate, 0.001)],
      violations,
      notes: [
        `${okCharges} charges, ${okOrders} orders, ${paidOrders.size} payments succeeded; ${replayed} cut-off calls replayed with their keys`,
      ],
    };
  },
};
