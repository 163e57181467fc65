import { describe, expect, it } from 'vitest';
import {
  createPassStore,
  describeWait,
  nextPollMs,
  PASSES_KEY,
  type RoomView,
  saleRouteOf,
  standingOf,
} from './waiting-room';

const room = (over: Partial<RoomView> = {}): RoomView => ({
  roomId: 7,
  couponIds: [3],
  productIds: [11, 12],
  admitPerSecond: 10,
  paused: false,
  opensAt: null,
  joined: 500,
  admittedThrough: 100,
  ...over,
});
const NOW = Date.parse('2026-12-07T10:00:00Z');

describe('where a ticket stands, from the room everyone polls', () => {
  it('counts the tickets ahead and the wait at the room rate', () => {
    // Tickets 101..149 go in before 150: 49 ahead; 150 is in after 50 more admissions at 10/s.
    expect(standingOf(room(), 150, 100, NOW)).toEqual({
      admitted: false,
      ahead: 49,
      etaSeconds: 5,
      progress: 0,
    });
    expect(standingOf(room({ admittedThrough: 125 }), 150, 100, NOW)).toMatchObject({
      ahead: 24,
      progress: 0.5,
    });
    expect(standingOf(room(), 101, 100, NOW)).toMatchObject({ admitted: false, ahead: 0, etaSeconds: 0.1 });
  });

  it('an admitted ticket has nobody ahead and a full bar', () => {
    for (const ticket of [1, 100]) {
      expect(standingOf(room(), ticket, 0, NOW)).toEqual({
        admitted: true,
        ahead: 0,
        etaSeconds: 0,
        progress: 1,
      });
    }
  });

  it('a paused room has no estimate; one not open yet adds the time until it opens', () => {
    expect(standingOf(room({ paused: true }), 150, 100, NOW).etaSeconds).toBeNull();
    const later = new Date(NOW + 60_000).toISOString();
    expect(standingOf(room({ opensAt: later, admittedThrough: 0 }), 20, 0, NOW).etaSeconds).toBe(62);
  });

  it('the position never goes up while admittedThrough grows', () => {
    let last = Number.POSITIVE_INFINITY;
    for (let through = 0; through <= 300; through += 7) {
      const { ahead } = standingOf(room({ admittedThrough: through }), 250, 0, NOW);
      expect(ahead).toBeLessThanOrEqual(last);
      last = ahead;
    }
    expect(last).toBe(0);
  });

  it('polls every second near its turn, every 5 s far from it or while paused', () => {
    expect(nextPollMs(standingOf(room(), 105, 100, NOW))).toBe(1000);
    expect(nextPollMs(standingOf(room(), 5000, 100, NOW))).toBe(5000);
    expect(nextPollMs(standingOf(room({ paused: true }), 105, 100, NOW))).toBe(5000);
  });

  it('says the wait in words', () => {
    expect(describeWait(null)).toBe('unknown while admission is paused');
    expect(describeWait(4)).toBe('a few seconds');
    expect(describeWait(45)).toBe('less than a minute');
    expect(describeWait(150)).toBe('about 3 min');
    expect(describeWait(3 * 3600 + 600)).toBe('about 3 h 10 min');
  });

  it('the sale page is the first coupon, else the first product', () => {
    expect(saleRouteOf({ couponIds: [3, 4], productIds: [11] })).toBe('/coupons/3');
    expect(saleRouteOf({ couponIds: [], productIds: [11] })).toBe('/products/11');
  });
});

describe('the pass store', () => {
  const memory = () => {
    const data = new Map<string, string>();
    return {
      getItem: (k: string) => data.get(k) ?? null,
      setItem: (k: string, v: string) => void data.set(k, v),
      removeItem: (k: string) => void data.delete(k),
      data,
    };
  };
  const entry = {
    ticket: 9,
    startedAt: 2,
    pass: 'p-7',
    refusedPass: null,
    couponIds: [3],
    productIds: [11, 12],
  };

  it('puts a room pass on the calls that room guards, and on no other', () => {
    const store = createPassStore(() => memory());
    const storage = memory();
    const passes = createPassStore(() => storage);
    passes.save(42, 7, entry);
    passes.save(42, 8, { ...entry, pass: 'p-8', couponIds: [5], productIds: [] });
    expect(store.passFor(42, [{ path: 'coupon.issue', input: { couponId: 3 } }])).toBeUndefined();
    expect(passes.passFor(42, [{ path: 'coupon.issue', input: { couponId: 3 } }])).toBe('p-7');
    expect(passes.passFor(42, [{ path: 'coupon.issue', input: { couponId: 5 } }])).toBe('p-8');
    expect(
      passes.passFor(42, [{ path: 'order.create', input: { items: [{ productId: 1 }, { productId: 12 }] } }]),
    ).toBe('p-7');
    expect(
      passes.passFor(42, [{ path: 'order.create', input: { items: [{ productId: 1 }] } }]),
    ).toBeUndefined();
    expect(passes.passFor(42, [{ path: 'coupon.get', input: { couponId: 3 } }])).toBeUndefined();
    expect(passes.passFor(42, [{ path: 'balance.get', input: undefined }])).toBeUndefined();
  });

  it('a pass belongs to the user who got it', () => {
    const storage = memory();
    const passes = createPassStore(() => storage);
    passes.save(42, 7, entry);
    expect(passes.passFor(43, [{ path: 'coupon.issue', input: { couponId: 3 } }])).toBeUndefined();
    expect(passes.entry(43, 7)).toBeUndefined();
    passes.save(43, 7, { ...entry, pass: 'p-43' });
    expect(passes.entry(42, 7)).toBeUndefined();
    expect(JSON.parse(storage.data.get(PASSES_KEY)!).userId).toBe(43);
  });

  it('a refused pass is set aside, never sent again, and the ticket kept', () => {
    const storage = memory();
    const passes = createPassStore(() => storage);
    passes.save(42, 7, entry);
    passes.refusePass(42, 7);
    expect(passes.entry(42, 7)).toEqual({ ...entry, pass: null, refusedPass: 'p-7' });
    expect(passes.passFor(42, [{ path: 'coupon.issue', input: { couponId: 3 } }])).toBeUndefined();
  });

  it('storage that throws or holds garbage leaves the shopper without passes, not with an error', () => {
    const broken = createPassStore(() => ({
      getItem: () => {
        throw new Error('denied');
      },
      setItem: () => {
        throw new Error('denied');
      },
      removeItem: () => {},
    }));
    expect(() => broken.save(42, 7, entry)).not.toThrow();
    expect(broken.entry(42, 7)).toBeUndefined();
    const storage = memory();
    storage.setItem(PASSES_KEY, '{not json');
    expect(createPassStore(() => storage).entry(42, 7)).toBeUndefined();
  });
});
