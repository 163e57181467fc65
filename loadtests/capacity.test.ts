import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type Costs, funnel, MILLION, model, readBench, render, SCALING_MD, withBlock } from './capacity.ts';

const at = (api: number, redis: number, postgres: number) => ({ api, redis, postgres, source: 'test' });
const costs: Costs = {
  issue: at(50, 20, 0),
  soldOut: at(70, 20, 0),
  order: at(60, 30, 0),
  charge: at(100, 10, 200),
  pay: at(150, 30, 300),
  drainPerSec: 50_000,
  payPerSec: 3_000,
  pgbenchPerSec: 3_000,
};

describe('the capacity model (docs/scaling.md)', () => {
  it('works out the calls and the cores step by step, as section 2 says', () => {
    // 1,000 shoppers over 10 s for 100 coupons and 300 units; half the couponless buy anyway,
    // a tenth of the orders is abandoned; peak twice the average.
    const m = model(
      {
        shoppers: 1_000,
        seconds: 10,
        coupons: 100,
        stock: 300,
        peak: 2,
        buyWithoutCoupon: 0.5,
        abandon: 0.1,
      },
      costs,
    );
    expect(m.calls).toEqual({ issued: 100, soldOut: 900, orders: 550, charges: 300, pays: 300 });
    // Orders beyond the stock are refusals: 550 × 0.9 = 495 would pay, the stock caps it at 300.
    expect(m.peakPerSec).toEqual({ issue: 200, order: 110, charge: 60, pay: 60 });
    // Issue: 200/s at (100 × 50 + 900 × 70) / 1,000 = 68 µs; orders 110 × 60; charges 60 × 100; pays 60 × 150.
    expect(m.apiCoresBusy).toBeCloseTo((200 * 68 + 110 * 60 + 60 * 100 + 60 * 150) / 1e6, 12);
    expect(m.apiCores).toBe(1);
    expect(m.couponSlot).toBeCloseTo((200 * 20) / 1e6, 12);
    expect(m.productSlot).toBeCloseTo((110 * 30) / 1e6, 12);
    expect(m.postgresCoresBusy).toBeCloseTo((60 * 300 + 60 * 200) / 1e6, 12);
    expect(m.commitsPerSec).toBe(120);
    expect(m.drainShare).toBeCloseTo(20 / 50_000, 12);
  });

  it('never issues more coupons than shoppers, nor pays more than the stock', () => {
    const m = model(
      { shoppers: 50, seconds: 1, coupons: 100, stock: 10, peak: 1, buyWithoutCoupon: 1, abandon: 0 },
      costs,
    );
    expect(m.calls.issued).toBe(50);
    expect(m.calls.soldOut).toBe(0);
    expect(m.calls.pays).toBe(10);
  });

  it('refuses a bench without a row it needs, naming it', () => {
    const bench = readBench();
    const without = { ...bench, rows: bench.rows.filter((r) => r.id !== 'order.create') };
    expect(() => render(without, { ...MILLION, ...funnel() })).toThrow(/no row "order.create"/);
  });

  it('docs/scaling.md shows what docs/benchmarks.json gives (run `pnpm capacity --write` after `pnpm bench`)', () => {
    const doc = readFileSync(SCALING_MD, 'utf8');
    const expected = withBlock(doc, render(readBench(), { ...MILLION, ...funnel() }));
    // Biome pads the tables: compare without the padding.
    const unpadded = (text: string) => text.replace(/-{3,}/g, '---').replace(/[ \t]+/g, ' ');
    expect(unpadded(doc)).toBe(unpadded(expected));
  });
});
