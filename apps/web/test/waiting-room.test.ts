// The waiting page in a real browser (Debian's Chromium through playwright-core) against the
// real API and worker on a fresh database and Redis prefix, as storefront.test.ts runs them
// (harness.ts). A shopper joins a paused room behind others, watches the queue move, is admitted
// when an admin raises the rate, lands on the sale and claims the coupon with the pass its tab
// kept; another whose pass has expired is sent back to the waiting page with a sentence, not a
// code. Each test opens its own room, so they run at the same time and each stands alone.
// Screenshots at desktop and phone width land in test-results/web/waiting-room.*.png.
import { connectRedisClient, createKeys, type RedisClient } from '@flash/core';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { httpCall } from '../../../test/processes.ts';
import { PASSES_KEY } from '../src/waiting-room.ts';
import {
  closeShopper,
  inspect,
  newShopper,
  pollerOf,
  SETUP_TIMEOUT,
  type Stack,
  signInAs,
  startStack,
  TEST_TIMEOUT,
} from './harness.ts';

/** Shoppers who joined before the one in the browser. */
const AHEAD = 30;

describe.concurrent('waiting room in Chromium', () => {
  let stack: Stack;
  let redis: RedisClient;

  beforeAll(async () => {
    stack = await startStack();
    redis = await connectRedisClient(stack.env.config, 'command', 'waiting-room-ui-test');
  }, SETUP_TIMEOUT);

  afterAll(async () => {
    await redis?.quit();
    await stack?.close();
  });

  /**
   * A test's own sneaker drop: a coupon and a product behind a room that admits `admitPerSecond`,
   * paused before anyone joins if asked, so its queue stands still until the test moves it.
   */
  async function sneakerDrop(admitPerSecond: number, options: { paused?: boolean } = {}) {
    const coupon = (
      await stack.call('mutation', 'admin.coupon.create', {
        name: 'Sneaker drop ₩3,000',
        discount: { type: 'FIXED', value: 3_000 },
        totalQuantity: 20,
      })
    ).couponId as number;
    const product = (
      await stack.call('mutation', 'admin.product.create', {
        name: 'Limited sneaker',
        price: 99_000,
        stock: 5,
      })
    ).id as number;
    const room = (
      await stack.call('mutation', 'admin.waitingRoom.create', {
        name: 'Sneaker drop',
        couponIds: [coupon],
        productIds: [product],
        admitPerSecond,
      })
    ).roomId as number;
    if (options.paused)
      await stack.call('mutation', 'admin.waitingRoom.update', { roomId: room, paused: true });
    return { coupon, product, room };
  }

  const storedPass = (page: Page) =>
    page.evaluate((key) => {
      const stored = JSON.parse(sessionStorage.getItem(key) ?? '{}');
      return Object.values(stored.rooms ?? {}).map((r) => (r as { pass: string | null }).pass)[0] ?? null;
    }, PASSES_KEY);

  it(
    'a shopper joins behind others, watches the queue move, is admitted and claims the coupon with its pass',
    async (t) => {
      const poll = pollerOf(t);
      const expect = t.expect;
      const ids = await sneakerDrop(1, { paused: true });
      for (let i = 1; i <= AHEAD; i++) {
        await stack.call('mutation', 'waitingRoom.join', { roomId: ids.room }, await stack.tokenOf(5000 + i));
      }
      const shopper = await newShopper(stack, t);
      const { page } = shopper;
      await page.goto(`${stack.api.url}/#/waiting-room/${ids.room}`);
      await page.getByRole('heading', { level: 1, name: 'Sneaker drop: waiting room' }).waitFor();
      await page.getByText('Sign in (top of the page) to take your place in the queue.').waitFor();
      await inspect(shopper, 'waiting-room.signed-out');

      await signInAs(shopper, 6001);
      await poll(() => page.getByTestId('ticket').textContent()).toBe(String(AHEAD + 1));
      await page.getByText(`${AHEAD + 1} shoppers have joined; 0 have gone in.`).waitFor();
      expect(await page.getByTestId('ahead').textContent()).toBe(String(AHEAD));
      expect(await page.getByTestId('wait').textContent()).toBe('unknown while admission is paused');
      await page.getByText('Admission is paused for a moment. You keep your place in the queue.').waitFor();
      await inspect(shopper, 'waiting-room.paused');

      // One a second: the page's numbers move on their own polls of waitingRoom.get.
      await stack.call('mutation', 'admin.waitingRoom.update', { roomId: ids.room, paused: false });
      await poll(async () => Number(await page.getByTestId('ahead').textContent())).toBeLessThan(AHEAD);
      expect(await page.getByTestId('wait').textContent()).toMatch(/^(less than a minute|a few seconds)$/);
      expect(Number(await page.locator('progress').getAttribute('value'))).toBeGreaterThan(0);
      await inspect(shopper, 'waiting-room.waiting');

      // Everyone in at once: the page takes the shopper straight to the sale.
      await stack.call('mutation', 'admin.waitingRoom.update', { roomId: ids.room, admitPerSecond: 100_000 });
      await page.getByRole('heading', { level: 1, name: 'Sneaker drop ₩3,000' }).waitFor();
      expect(page.url()).toContain(`#/coupons/${ids.coupon}`);
      expect(await storedPass(page)).toMatch(new RegExp(`^${ids.room}\\.6001\\.${AHEAD + 1}\\.`));
      await page.getByRole('button', { name: 'Claim coupon' }).click();
      await page.getByText('You have this coupon.').waitFor();

      const mine = await stack.call('query', 'coupon.mine', undefined, await stack.tokenOf(6001));
      expect(mine.items.map((c: { couponId: number }) => c.couponId)).toEqual([ids.coupon]);
      // The pass went only where the room guards: the same call without it is refused.
      const without = await httpCall(
        stack.api.url,
        'mutation',
        'coupon.issue',
        { couponId: ids.coupon },
        await stack.tokenOf(6002),
      );
      expect(without.body.error.data).toMatchObject({ appCode: 'NOT_ADMITTED', roomId: ids.room });
      await closeShopper(shopper);
    },
    TEST_TIMEOUT,
  );

  it(
    'a shopper whose pass expired is sent back to the waiting page with a sentence, not a code',
    async (t) => {
      const poll = pollerOf(t);
      const expect = t.expect;
      // A room that lets everyone in at once: joining lands on the sale straight away.
      const ids = await sneakerDrop(100_000);
      const shopper = await newShopper(stack, t);
      const { page } = shopper;
      await signInAs(shopper, 6003);
      await page.goto(`${stack.api.url}/#/waiting-room/${ids.room}`);
      await page.getByRole('heading', { level: 1, name: 'Sneaker drop ₩3,000' }).waitFor();
      const fresh = await storedPass(page);
      expect(fresh).not.toBeNull();

      // Ten minutes pass (passTtlSeconds' default) without waiting them: the ticket's pass expiry,
      // which the room keeps in its hash as `<ticket>:<expiresAtMs>` for the user, is moved into
      // the past; the pass the service now signs for this ticket is the expired one the tab would
      // hold had the shopper lingered, and it goes into the tab's storage in place of the fresh one.
      const ticket = Number(fresh!.split('.')[2]);
      const roomKey = createKeys(stack.env.config.redisKeyPrefix).waitingRoom(ids.room).room;
      expect(await redis.hget(roomKey, '6003')).toMatch(new RegExp(`^${ticket}:\\d+$`));
      await redis.hset(roomKey, '6003', `${ticket}:${Date.now() - 1000}`);
      const status = await stack.call(
        'query',
        'waitingRoom.status',
        { roomId: ids.room },
        await stack.tokenOf(6003),
      );
      expect(status).toMatchObject({ ticket, admitted: true });
      expect(status.pass).not.toBe(fresh);
      await page.evaluate(
        ({ key, pass }) => {
          const stored = JSON.parse(sessionStorage.getItem(key)!);
          for (const room of Object.values(stored.rooms)) (room as { pass: string }).pass = pass;
          sessionStorage.setItem(key, JSON.stringify(stored));
        },
        { key: PASSES_KEY, pass: status.pass },
      );

      await page.getByRole('button', { name: 'Claim coupon' }).click();
      await page.getByRole('heading', { level: 1, name: 'Sneaker drop: waiting room' }).waitFor();
      expect(page.url()).toContain(`#/waiting-room/${ids.room}`);
      const alert = page.getByRole('alert');
      await poll(() => alert.textContent()).toContain('Your time to shop in this sale ran out');
      // Joining again answers the same ticket and the same expired pass: the page says so and
      // stays, rather than bouncing between the sale and the queue.
      await poll(() => alert.textContent()).toContain(
        'Your turn has passed and this sale cannot let you in again.',
      );
      expect(await page.locator('body').textContent()).not.toContain('NOT_ADMITTED');
      await page.waitForTimeout(1500);
      expect(page.url()).toContain(`#/waiting-room/${ids.room}`);
      await inspect(shopper, 'waiting-room.expired');

      const mine = await stack.call('query', 'coupon.mine', undefined, await stack.tokenOf(6003));
      expect(mine.items).toEqual([]);
      await closeShopper(shopper);
    },
    TEST_TIMEOUT,
  );
});
