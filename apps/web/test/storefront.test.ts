// The storefront in a real browser: Debian's Chromium (playwright-core) against the real API and
// worker (child processes, as `pnpm start` runs them) on a fresh database and Redis prefix, the
// app being the production build the API serves at `/` (harness.ts). Screenshots of every page,
// at desktop and phone width, land in test-results/web/.
//
// Every test stands alone: it makes its own products, coupons and shoppers (through the API,
// unless the page itself is what is tested), checks its own pages for CSP violations and
// uncaught errors, and the tests run at the same time. Expiry is watched on a second API (the
// same server, built in this process) whose orders hold for HOLD_SECONDS, so nobody waits out
// the normal hold.
import { signToken } from '@flash/core';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, it, type TestContext } from 'vitest';
import { ERROR_MESSAGES } from '../src/errors.ts';
import { DESKTOP, PHONE } from './browser.ts';
import {
  closeShopper,
  inspect,
  newShopper,
  open,
  pollerOf,
  SETUP_TIMEOUT,
  type Shopper,
  type Stack,
  signInAs,
  slots,
  startStack,
  TEST_TIMEOUT,
} from './harness.ts';

/** The short-hold API's order hold: long enough to see the countdown, short enough to watch it end. */
const HOLD_SECONDS = 4;
const HOUR = 3_600_000;
/**
 * Tests that drive a browser at once. The tests stand alone and partly wait (on the API, on an
 * order's expiry), so a few overlap well; more would only fight over the CPU.
 */
const inBrowserSlot = slots(3);

describe.concurrent('storefront in Chromium', () => {
  let stack: Stack;
  let nextUser = 1000;
  let nextName = 0;

  /** A name no other test uses (tests share the catalog), readable in the screenshots. */
  const unique = (name: string) => `${name} ${++nextName}`;

  const call = (kind: 'query' | 'mutation', path: string, input?: unknown, token?: string) =>
    stack.call(kind, path, input, token);
  const product = async (name: string, price: number, stock: number, imageUrl?: string) =>
    (await call('mutation', 'admin.product.create', { name, price, stock, imageUrl })) as {
      id: number;
      name: string;
    };
  const coupon = async (name: string, extra: Record<string, unknown> = {}) =>
    (
      await call('mutation', 'admin.coupon.create', {
        name,
        discount: { type: 'FIXED', value: 5_000 },
        totalQuantity: 100,
        ...extra,
      })
    ).couponId as number;
  /** A new user id and its token; `balance` charged through the API. */
  const shopperAccount = async (balance = 0) => {
    const id = nextUser++;
    const token = await stack.tokenOf(id);
    if (balance > 0) await call('mutation', 'balance.charge', { amount: balance }, token);
    return { id, token };
  };

  /** A browser test with one shopper: a browser slot, a fresh context, and its pages' problems checked at the end. */
  const shopperTest = (
    name: string,
    body: (visit: {
      shopper: Shopper;
      page: Page;
      poll: ReturnType<typeof pollerOf>;
      expect: TestContext['expect'];
    }) => Promise<void>,
    options: { viewport?: typeof DESKTOP; base?: () => string } = {},
  ) =>
    it(
      name,
      (t) =>
        inBrowserSlot(async () => {
          const shopper = await newShopper(stack, t, { viewport: options.viewport, base: options.base?.() });
          await body({ shopper, page: shopper.page, poll: pollerOf(t), expect: t.expect });
          await closeShopper(shopper);
        }),
      TEST_TIMEOUT,
    );

  beforeAll(async () => {
    stack = await startStack({ variants: { shortHold: { orderHoldSeconds: HOLD_SECONDS } } });
  }, SETUP_TIMEOUT);

  afterAll(() => stack?.close());

  it(
    'the API serves the production build at /, compressed, the page never cached',
    async ({ expect }) => {
      const index = await fetch(`${stack.api.url}/`, { headers: { 'accept-encoding': 'br, gzip' } });
      expect(index.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(index.headers.get('content-encoding')).toBe('br');
      expect(index.headers.get('cache-control')).toBe('no-cache');
      const script = /<script type="module" crossorigin src="(\/assets\/[\w.-]+\.js)">/.exec(
        await index.text(),
      );
      expect(script).not.toBeNull();
      const bundle = await fetch(`${stack.api.url}${script![1]}`, { headers: { 'accept-encoding': 'gzip' } });
      expect(bundle.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(bundle.headers.get('content-encoding')).toBe('gzip');
      // React's development build carries this message; the production build does not (vitest's
      // NODE_ENV=test once made Vite bundle the development build).
      expect(await bundle.text()).not.toContain('Invalid hook call');
    },
    TEST_TIMEOUT,
  );

  // The browser tests start in this order, the longest first, so that none is left running alone
  // at the end; the expiry test leads, as most of it is waiting for the hold to run out.
  shopperTest(
    'an unpaid order shows its countdown, then EXPIRED',
    async ({ shopper, page, poll, expect }) => {
      const item = await product(unique('Desk lamp'), 30_000, 5);
      const me = await shopperAccount();
      await signInAs(shopper, me.id);
      await open(page, `/products/${item.id}`, item.name);
      await page.getByRole('button', { name: 'Add to cart' }).click();
      await open(page, '/cart', 'Cart');
      await page.getByRole('button', { name: 'Place order' }).click();
      await page.getByRole('heading', { level: 1, name: 'Order' }).waitFor();
      const countdown = page.locator('.order-status .countdown time');
      await countdown.waitFor();
      expect(await countdown.textContent()).toMatch(new RegExp(`^0:0[0-${HOLD_SECONDS}]$`));

      await poll(() => page.locator('.order-status [data-status]').textContent()).toBe('EXPIRED');
      expect(await page.getByRole('button', { name: /^Pay / }).count()).toBe(0);
      await inspect(shopper, 'order.expired');
      await open(page, '/orders', 'My orders');
      await poll(() => page.locator('[data-order-id] [data-status]').allTextContents()).toEqual(['EXPIRED']);
      // The stock came back with the expiry.
      expect((await call('query', 'product.get', { productId: item.id })).stock).toBe(5);
    },
    { base: () => stack.variants.shortHold!.url },
  );

  shopperTest(
    'the cart shows the price with the coupon live, and the order charges exactly that',
    async ({ shopper, page, poll, expect }) => {
      // A Korean name, drawn in the app's own font, and a product with a picture.
      const keyboard = await product(unique('기계식 키보드'), 25_000, 40, '/images/keyboard.svg');
      const cable = await product(unique('USB-C cable'), 9_000, 120);
      const couponName = unique('Ten percent');
      const couponId = await coupon(couponName, { discount: { type: 'PERCENT', value: 10 }, validDays: 7 });
      const me = await shopperAccount(100_000);
      await call('mutation', 'coupon.issue', { couponId }, me.token);
      await signInAs(shopper, me.id);

      await open(page, '/', 'Products');
      await page.getByRole('button', { name: `Add ${keyboard.name} to cart` }).click();
      await open(page, `/products/${cable.id}`, cable.name);
      await page.getByLabel('Quantity').fill('2');
      await page.getByRole('button', { name: 'Add to cart' }).click();
      await page.getByText('Added 2 to your cart.').waitFor();
      await inspect(shopper, 'product');

      await open(page, '/cart', 'Cart');
      await poll(() => page.getByTestId('quote-pay').textContent()).toBe('₩43,000');
      await page.getByLabel('Coupon').selectOption({ label: `${couponName} (10% off)` });
      await poll(() => page.getByTestId('quote-discount').textContent()).toBe('−₩4,300');
      await poll(() => page.getByTestId('quote-pay').textContent()).toBe('₩38,700');
      await page.getByLabel(`Quantity of ${cable.name}`).fill('3');
      await poll(() => page.getByTestId('quote-total').textContent()).toBe('₩52,000');
      await poll(() => page.getByTestId('quote-pay').textContent()).toBe('₩46,800');
      // Nothing is held by the quote: every unit is still for sale.
      expect((await call('query', 'product.get', { productId: cable.id })).stock).toBe(120);
      await inspect(shopper, 'cart');

      await page.getByRole('button', { name: 'Place order' }).click();
      await page.getByRole('heading', { level: 1, name: 'Order' }).waitFor();
      await poll(() => page.getByTestId('pay-amount').textContent()).toBe('₩46,800');
      await page.getByText('Pay within').waitFor();
      expect(await page.locator('[data-status]').first().textContent()).toBe('PENDING PAYMENT');
      await inspect(shopper, 'order.pending');
      await page.getByRole('button', { name: 'Pay ₩46,800' }).click();
      await page.getByText('Paid. Your balance is now ₩53,200.').waitFor();
      await poll(() => page.locator('.order-status [data-status]').textContent()).toBe('PAID');
      await inspect(shopper, 'order.paid');
      await open(page, '/orders', 'My orders');
      await poll(() => page.locator('[data-order-id] [data-status]').allTextContents()).toEqual(['PAID']);
      await inspect(shopper, 'orders');

      // What the page said is what happened.
      expect((await call('query', 'order.list', undefined, me.token)).items).toEqual([
        expect.objectContaining({
          status: 'PAID',
          totalAmount: 52_000,
          discountAmount: 5_200,
          payAmount: 46_800,
        }),
      ]);
    },
  );

  shopperTest(
    'the other pages pass axe too: top 5, an upcoming sale, a sold-out product, a page that does not exist',
    async ({ shopper, page }) => {
      const best = await product(unique('Best seller'), 1_000, 10);
      const soldOut = await product(unique('Mouse pad'), 12_000, 0);
      const upcoming = unique('Midnight sale');
      const upcomingId = await coupon(upcoming, {
        issueStartsAt: new Date(Date.now() + HOUR).toISOString(),
        issueEndsAt: new Date(Date.now() + 2 * HOUR).toISOString(),
      });
      const buyer = await shopperAccount(10_000);
      const order = await call(
        'mutation',
        'order.create',
        { items: [{ productId: best.id, quantity: 3 }] },
        buyer.token,
      );
      await call('mutation', 'payment.pay', { orderId: order.orderId }, buyer.token);

      await inspect(shopper, 'catalog.signed-out');
      await open(page, '/top', 'Top 5 of the last 3 days');
      await page.getByRole('link', { name: best.name }).waitFor();
      await inspect(shopper, 'top');
      await open(page, `/coupons/${upcomingId}`, upcoming);
      await page.getByText('Not open yet.').waitFor();
      await page.getByText('Opens in').waitFor();
      await inspect(shopper, 'coupon-sale.upcoming');
      await open(page, '/coupons', 'Coupon sales');
      await inspect(shopper, 'coupons');
      await open(page, `/products/${soldOut.id}`, soldOut.name);
      await page.getByText('Sold out').waitFor();
      await inspect(shopper, 'product.sold-out');
      await open(page, '/cart', 'Cart');
      await inspect(shopper, 'cart.empty');
      await open(page, '/nowhere', 'Page not found');
      await inspect(shopper, 'not-found');
    },
  );

  it(
    'two shoppers race for the last coupon: one claims it, the other sees it sold out',
    (t) =>
      inBrowserSlot(async () => {
        const [first, second] = await Promise.all([newShopper(stack, t), newShopper(stack, t)]);
        const poll = pollerOf(t);
        const expect = t.expect;
        const name = unique('Last one standing');
        const couponId = await coupon(name, { totalQuantity: 1 });
        const [a, b] = [await shopperAccount(), await shopperAccount()];
        await Promise.all([signInAs(first, a.id), signInAs(second, b.id)]);
        for (const { page } of [first, second]) {
          await open(page, `/coupons/${couponId}`, name);
          await page.getByRole('button', { name: 'Claim coupon' }).waitFor();
        }
        // Both buttons are pressed at once, in the pages themselves: a click that waited for the
        // button to be steady could find it already gone (the other claim sold the coupon out).
        await Promise.all(
          [first, second].map(({ page }) =>
            page
              .getByRole('button', { name: 'Claim coupon' })
              .evaluate((button) => (button as unknown as { click(): void }).click()),
          ),
        );

        const outcome = async (page: Page) => {
          const won = page.getByText('You have this coupon.');
          const lost = page.getByText(ERROR_MESSAGES.COUPON_SOLD_OUT);
          await won.or(lost).first().waitFor();
          return (await won.count()) > 0 ? 'won' : 'lost';
        };
        const outcomes = await Promise.all([outcome(first.page), outcome(second.page)]);
        expect([...outcomes].sort()).toEqual(['lost', 'won']);
        const loserShopper = outcomes[0] === 'lost' ? first : second;
        const loser = loserShopper.page;
        for (const { page } of [first, second]) {
          await poll(() => page.getByTestId('remaining').textContent()).toBe('0');
        }
        expect(await loser.getByRole('button', { name: 'Claim coupon' }).count()).toBe(0);
        await inspect(loserShopper, 'coupon-sale.sold-out');

        // Nothing else broke for the one who lost: the rest of the shop answers as usual.
        await loser.getByRole('link', { name: 'My coupons' }).click();
        await loser.getByText('No coupons yet.').waitFor();
        expect(await loser.getByRole('alert').count()).toBe(0);

        const issued = await Promise.all(
          [a, b].map(async (u) => (await call('query', 'coupon.mine', undefined, u.token)).items.length),
        );
        expect([...issued].sort()).toEqual([0, 1]);
        await Promise.all([closeShopper(first), closeShopper(second)]);
      }),
    TEST_TIMEOUT,
  );

  shopperTest(
    'on a phone the menu is one row, and the current tab never moves its neighbours',
    async ({ shopper, page, poll, expect }) => {
      await product(unique('노트북 거치대'), 39_000, 3);
      await product(unique('Monitor arm'), 59_000, 3, '/images/keyboard.svg');
      const me = await shopperAccount();
      await signInAs(shopper, me.id);
      const links = page.locator('.site-nav a');
      const boxes = async () => Promise.all((await links.all()).map(async (l) => (await l.boundingBox())!));
      const onCatalog = await boxes();
      expect(new Set(onCatalog.map((b) => Math.round(b.y))).size).toBe(1);
      // Header and menu together: a small part of the 844 px screen.
      const nav = (await page.locator('.site-nav').boundingBox())!;
      expect(nav.y + nav.height).toBeLessThanOrEqual(120);

      // The same tabs, in the same places, whichever is current (at desktop width, none scrolled).
      await page.setViewportSize(DESKTOP);
      const positions = async () => (await boxes()).map((b) => [Math.round(b.x), Math.round(b.width)]);
      const here = await positions();
      await open(page, '/balance', 'Balance');
      expect(await positions()).toEqual(here);
      await open(page, '/my-coupons', 'My coupons');
      expect(await positions()).toEqual(here);

      // Pictures and placeholder art take the same box; Korean text is drawn in the app's font.
      await open(page, '/', 'Products');
      const pictured = page.locator('.card img.product-image').first();
      await pictured.waitFor();
      await poll(() =>
        pictured.evaluate((el) => {
          const img = el as unknown as { complete: boolean; naturalWidth: number };
          return img.complete && img.naturalWidth > 0;
        }),
      ).toBe(true);
      const sizes = await page
        .locator('.card .product-image')
        .evaluateAll((els) => els.map((e) => `${Math.round(e.clientWidth)}x${Math.round(e.clientHeight)}`));
      expect(new Set(sizes).size).toBe(1);
      await poll(() =>
        page.evaluate(async () => {
          type Face = { family: string; status: string };
          const fonts = (
            globalThis as unknown as { document: { fonts: Iterable<Face> & { ready: Promise<unknown> } } }
          ).document.fonts;
          await fonts.ready;
          return [...fonts].some((f) => f.family.includes('Pretendard') && f.status === 'loaded');
        }),
      ).toBe(true);
      await page.setViewportSize(PHONE);
      await inspect(shopper, 'catalog');
    },
    { viewport: PHONE },
  );

  shopperTest(
    'a shopper claims a coupon: the sale page and My coupons say how long it is valid',
    async ({ shopper, page, poll, expect }) => {
      const name = unique('Welcome ₩5,000');
      const couponId = await coupon(name, { validDays: 30 });
      const me = await shopperAccount();
      await signInAs(shopper, me.id);
      await open(page, '/coupons', 'Coupon sales');
      await page.getByRole('link', { name }).click();
      await page.getByRole('heading', { level: 1, name }).waitFor();
      await poll(() => page.getByTestId('remaining').textContent()).toBe('100');
      expect(await page.getByTestId('validity').textContent()).toBe('valid 30 days after you claim it');
      await inspect(shopper, 'coupon-sale.open');
      await page.getByRole('button', { name: 'Claim coupon' }).click();
      await page.getByText('You have this coupon.').waitFor();
      await poll(() => page.getByTestId('remaining').textContent()).toBe('99');
      const mine = (await call('query', 'coupon.mine', undefined, me.token)).items[0];
      const until = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' }).format(
        new Date(mine.expiresAt),
      );
      await poll(() => page.getByTestId('held-expiry').textContent()).toBe(until);
      await inspect(shopper, 'coupon-sale.claimed');

      await open(page, '/my-coupons', 'My coupons');
      const held = page.locator(`[data-coupon-id="${couponId}"]`);
      await poll(() => held.locator('[data-status]').textContent()).toBe('AVAILABLE');
      expect(await held.getByTestId('expiry').textContent()).toBe(`valid until ${until} (30 days left)`);
      await inspect(shopper, 'my-coupons');
    },
  );

  shopperTest(
    'a shopper charges 50,000, and a charge below 1,000 reads as its sentence',
    async ({ shopper, page, poll }) => {
      const me = await shopperAccount();
      await signInAs(shopper, me.id);
      await open(page, '/balance', 'Balance');
      await poll(() => page.getByTestId('balance').textContent()).toBe('₩0');
      await page.getByLabel('Amount to charge (KRW)').fill('50000');
      await page.getByRole('button', { name: 'Charge' }).click();
      await page.getByText('Charged ₩50,000. Your balance is ₩50,000.').waitFor();
      await poll(() => page.getByTestId('balance').textContent()).toBe('₩50,000');
      await inspect(shopper, 'balance');

      await page.getByLabel('Amount to charge (KRW)').fill('500');
      await page.getByRole('button', { name: 'Charge' }).click();
      await poll(() => page.getByRole('alert').textContent()).toContain(
        ERROR_MESSAGES.CHARGE_AMOUNT_TOO_SMALL,
      );
      await poll(() => page.getByTestId('balance').textContent()).toBe('₩50,000');
      await inspect(shopper, 'balance.too-small');
    },
  );

  shopperTest(
    'a session the API no longer accepts ends with a notice to sign in again',
    async ({ shopper, page, expect }) => {
      const me = await shopperAccount();
      await signInAs(shopper, me.id);
      // The same user id, signed with another key: what an expired or forged token looks like to the API.
      const forged = await signToken('another secret of at least thirty-two chars', me.id);
      await page.evaluate((token) => sessionStorage.setItem('flash.token', token), forged);
      await open(page, '/balance', 'Balance');
      // A new page load reads the stored token, as opening the app again would.
      await page.reload();
      const notice = page.getByRole('alert').filter({ hasText: 'Your session ended.' });
      await notice.waitFor();
      await page.getByRole('button', { name: 'Sign in' }).waitFor();
      await inspect(shopper, 'session-ended');
      await signInAs(shopper, me.id);
      expect(await notice.count()).toBe(0);
    },
  );
});
