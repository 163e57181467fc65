// The storefront in a real browser: Debian's Chromium (playwright-core) against the real API and
// worker (child processes, as `pnpm start` runs them) on a fresh database and Redis prefix, the
// app being the production build the API serves at `/`. Screenshots of every page, at desktop
// and phone width, land in test-results/web/.
import path from 'node:path';
import { signToken } from '@flash/core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { ensureWebBuilt } from '../../../scripts/build-web.ts';
import { type Child, httpCall, startApi, startChild } from '../../../test/processes.ts';
import { createTestEnv, type TestEnv } from '../../../test/support.ts';
import { ERROR_MESSAGES } from '../src/errors.ts';
import { DESKTOP, launchChromium, SCREENSHOTS, screenshots, seriousViolations } from './browser.ts';

/** Short enough to watch an order expire, long enough to pay one on a busy machine. */
const HOLD_SECONDS = 20;
const HOUR = 3_600_000;
const UI_TIMEOUT = 20_000;
/** expect.poll with the page's patience (vitest's default second is short on a busy machine). */
const poll = <T>(read: () => T | Promise<T>) => expect.poll(read, { timeout: UI_TIMEOUT, interval: 200 });

describe('storefront in Chromium', () => {
  let env: TestEnv;
  let api: Child & { url: string };
  let worker: Child;
  let browser: Browser;
  let admin: string;
  const contexts: BrowserContext[] = [];
  /** Problems the browser reported on any page: CSP violations, uncaught errors. */
  const pageProblems: string[] = [];
  const ids = { keyboard: 0, cable: 0, pad: 0, welcome: 0, lastOne: 0, upcoming: 0 };

  const call = async (kind: 'query' | 'mutation', path: string, input?: unknown) => {
    const res = await httpCall(api.url, kind, path, input, admin);
    if (res.status !== 200) throw new Error(`${path}: ${JSON.stringify(res.body)}`);
    return res.body.result.data;
  };

  beforeAll(async () => {
    // The one build these tests need, made once (skipped when apps/web/dist is current).
    await ensureWebBuilt();
    env = await createTestEnv({ ORDER_HOLD_SECONDS: String(HOLD_SECONDS) });
    // One at a time, and patiently: on a busy machine starting all three at once took minutes.
    api = await startApi(env.childEnv, 90_000);
    worker = startChild('worker', env.childEnv);
    browser = await launchChromium();
    admin = await signToken(env.config.jwtSecret, 1, { admin: true });
    ids.keyboard = (
      await call('mutation', 'admin.product.create', {
        name: 'Mechanical keyboard',
        price: 25_000,
        stock: 40,
      })
    ).id;
    ids.cable = (
      await call('mutation', 'admin.product.create', { name: 'USB-C cable', price: 9_000, stock: 120 })
    ).id;
    ids.pad = (
      await call('mutation', 'admin.product.create', { name: 'Mouse pad', price: 12_000, stock: 0 })
    ).id;
    const coupon = (name: string, extra: Record<string, unknown>) =>
      call('mutation', 'admin.coupon.create', { name, discount: { type: 'FIXED', value: 5_000 }, ...extra });
    ids.welcome = (await coupon('Welcome ₩5,000', { totalQuantity: 100, validDays: 30 })).couponId;
    ids.lastOne = (await coupon('Last one standing', { totalQuantity: 1 })).couponId;
    ids.upcoming = (
      await coupon('Midnight sale', {
        totalQuantity: 50,
        issueStartsAt: new Date(Date.now() + HOUR).toISOString(),
        issueEndsAt: new Date(Date.now() + 2 * HOUR).toISOString(),
      })
    ).couponId;
  }, 180_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await api?.kill('SIGTERM');
    await worker?.kill('SIGTERM');
    await env?.cleanup();
  });

  async function newShopper(viewport = DESKTOP): Promise<Page> {
    const context = await browser.newContext({ viewport });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(UI_TIMEOUT);
    page.on('pageerror', (err) => pageProblems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error' && /Content Security Policy|Refused to/i.test(msg.text())) {
        pageProblems.push(`console: ${msg.text()}`);
      }
    });
    // What each shopper saw when a test failed, next to the other screenshots.
    const shopper = contexts.length;
    onTestFailed(async ({ task }) => {
      const name = `failed.${task.name.slice(0, 30).replace(/\W+/g, '-')}.${shopper}`;
      await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true }).catch(() => {});
    });
    await page.goto(`${api.url}/`);
    return page;
  }

  async function signInAs(page: Page, userId: number): Promise<void> {
    await page.getByLabel('User id').fill(String(userId));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await poll(() => page.getByTestId('user-id').textContent()).toBe(String(userId));
  }

  async function open(page: Page, hash: string, heading: string | RegExp): Promise<void> {
    await page.goto(`${api.url}/#${hash}`);
    await page.getByRole('heading', { level: 1, name: heading }).waitFor();
  }

  /** Screenshots and an axe check of the page as it stands. */
  async function inspect(page: Page, name: string): Promise<void> {
    await screenshots(page, name);
    const violations = await seriousViolations(page);
    expect(violations, `${name}: ${JSON.stringify(violations, null, 1)}`).toEqual([]);
  }

  it('the API serves the production build at /', async () => {
    const index = await fetch(`${api.url}/`);
    expect(index.headers.get('content-security-policy')).toContain("script-src 'self'");
    const script = /<script type="module" crossorigin src="(\/assets\/[\w.-]+\.js)">/.exec(
      await index.text(),
    );
    expect(script).not.toBeNull();
    const bundle = await fetch(`${api.url}${script![1]}`);
    expect(bundle.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    // React's development build carries this message; the production build does not (vitest's
    // NODE_ENV=test once made Vite bundle the development build).
    expect(await bundle.text()).not.toContain('Invalid hook call');
  });

  it('a shopper signs in, charges 50,000, claims a coupon, orders two products with it and pays', async () => {
    const page = await newShopper();
    await page.getByRole('heading', { level: 1, name: 'Products' }).waitFor();
    await page.getByRole('link', { name: 'Mechanical keyboard' }).waitFor();
    await inspect(page, 'catalog.signed-out');
    await signInAs(page, 1001);

    await open(page, '/balance', 'Balance');
    await poll(() => page.getByTestId('balance').textContent()).toBe('₩0');
    await page.getByLabel('Amount to charge (KRW)').fill('50000');
    await page.getByRole('button', { name: 'Charge' }).click();
    await page.getByText('Charged ₩50,000. Your balance is ₩50,000.').waitFor();
    await poll(() => page.getByTestId('balance').textContent()).toBe('₩50,000');
    await inspect(page, 'balance');

    await open(page, '/coupons', 'Coupon sales');
    await page.getByRole('link', { name: 'Welcome ₩5,000' }).click();
    await page.getByRole('heading', { level: 1, name: 'Welcome ₩5,000' }).waitFor();
    await poll(() => page.getByTestId('remaining').textContent()).toBe('100');
    await inspect(page, 'coupon-sale.open');
    await page.getByRole('button', { name: 'Claim coupon' }).click();
    await page.getByText('You have this coupon.').waitFor();
    await poll(() => page.getByTestId('remaining').textContent()).toBe('99');
    await inspect(page, 'coupon-sale.claimed');

    await open(page, '/', 'Products');
    await inspect(page, 'catalog');
    await page.getByRole('button', { name: 'Add Mechanical keyboard to cart' }).click();
    await page.getByRole('link', { name: 'USB-C cable' }).click();
    await page.getByRole('heading', { level: 1, name: 'USB-C cable' }).waitFor();
    await page.getByLabel('Quantity').fill('2');
    await page.getByRole('button', { name: 'Add to cart' }).click();
    await page.getByText('Added 2 to your cart.').waitFor();
    await inspect(page, 'product');

    await open(page, '/cart', 'Cart');
    await page.getByText('₩43,000').waitFor();
    await page.getByLabel('Coupon').selectOption({ label: 'Welcome ₩5,000 (₩5,000 off)' });
    await inspect(page, 'cart');
    await page.getByRole('button', { name: 'Place order' }).click();
    await page.getByRole('heading', { level: 1, name: 'Order' }).waitFor();
    await poll(() => page.getByTestId('pay-amount').textContent()).toBe('₩38,000');
    await page.getByText('Pay within').waitFor();
    expect(await page.locator('[data-status]').first().textContent()).toBe('PENDING PAYMENT');
    await page.getByRole('button', { name: 'Pay ₩38,000' }).click();
    await page.getByText('Paid. Your balance is now ₩12,000.').waitFor();
    await poll(() => page.locator('.order-status [data-status]').textContent()).toBe('PAID');
    await inspect(page, 'order.paid');

    await open(page, '/balance', 'Balance');
    await poll(() => page.getByTestId('balance').textContent()).toBe('₩12,000');
    await open(page, '/my-coupons', 'My coupons');
    const held = page.locator(`[data-coupon-id="${ids.welcome}"] [data-status]`);
    await poll(() => held.textContent()).toBe('USED');
    await inspect(page, 'my-coupons');
    await open(page, '/orders', 'My orders');
    await poll(() => page.locator('[data-order-id] [data-status]').allTextContents()).toEqual(['PAID']);
    await inspect(page, 'orders');

    // The same order through the API: what the page said is what happened.
    const token = await signToken(env.config.jwtSecret, 1001);
    const orders = (await httpCall(api.url, 'query', 'order.list', undefined, token)).body.result.data.items;
    expect(orders).toEqual([
      expect.objectContaining({
        status: 'PAID',
        totalAmount: 43_000,
        discountAmount: 5_000,
        payAmount: 38_000,
      }),
    ]);
  }, 240_000);

  it('two shoppers race for the last coupon: one claims it, the other sees it sold out', async () => {
    const [first, second] = await Promise.all([newShopper(), newShopper()]);
    await Promise.all([signInAs(first, 2001), signInAs(second, 2002)]);
    for (const page of [first, second]) {
      await open(page, `/coupons/${ids.lastOne}`, 'Last one standing');
      await page.getByRole('button', { name: 'Claim coupon' }).waitFor();
    }
    await Promise.all(
      [first, second].map((page) => page.getByRole('button', { name: 'Claim coupon' }).click()),
    );

    const outcome = async (page: Page) => {
      const won = page.getByText('You have this coupon.');
      const lost = page.getByText(ERROR_MESSAGES.COUPON_SOLD_OUT);
      await won.or(lost).first().waitFor();
      return (await won.count()) > 0 ? 'won' : 'lost';
    };
    const outcomes = await Promise.all([outcome(first), outcome(second)]);
    expect([...outcomes].sort()).toEqual(['lost', 'won']);
    const loser = outcomes[0] === 'lost' ? first : second;
    for (const page of [first, second]) {
      await poll(() => page.getByTestId('remaining').textContent()).toBe('0');
    }
    expect(await loser.getByRole('button', { name: 'Claim coupon' }).count()).toBe(0);
    await inspect(loser, 'coupon-sale.sold-out');

    // Nothing else broke for the one who lost: the rest of the shop answers as usual.
    await loser.getByRole('link', { name: 'Balance' }).click();
    await poll(() => loser.getByTestId('balance').textContent()).toBe('₩0');
    await loser.getByRole('link', { name: 'My coupons' }).click();
    await loser.getByText('No coupons yet.').waitFor();
    expect(await loser.getByRole('alert').count()).toBe(0);

    const issued = await Promise.all(
      [2001, 2002].map(async (userId) => {
        const token = await signToken(env.config.jwtSecret, userId);
        return (await httpCall(api.url, 'query', 'coupon.mine', undefined, token)).body.result.data.items
          .length;
      }),
    );
    expect([...issued].sort()).toEqual([0, 1]);
  }, 180_000);

  it('an unpaid order shows its countdown, then EXPIRED', async () => {
    const page = await newShopper();
    await signInAs(page, 3001);
    await open(page, `/products/${ids.keyboard}`, 'Mechanical keyboard');
    await page.getByRole('button', { name: 'Add to cart' }).click();
    await open(page, '/cart', 'Cart');
    await page.getByRole('button', { name: 'Place order' }).click();
    await page.getByRole('heading', { level: 1, name: 'Order' }).waitFor();
    const countdown = page.locator('.order-status .countdown time');
    await countdown.waitFor();
    const first = await countdown.textContent();
    expect(first).toMatch(/^0:[0-2]\d$/);
    await poll(() => countdown.textContent()).not.toBe(first);
    await inspect(page, 'order.pending');

    await expect
      .poll(() => page.locator('.order-status [data-status]').textContent(), {
        timeout: (HOLD_SECONDS + 30) * 1000,
        interval: 500,
      })
      .toBe('EXPIRED');
    expect(await page.getByRole('button', { name: /^Pay / }).count()).toBe(0);
    await inspect(page, 'order.expired');
    await open(page, '/orders', 'My orders');
    await poll(() => page.locator('[data-order-id] [data-status]').allTextContents()).toEqual(['EXPIRED']);
  }, 180_000);

  it('a charge below 1,000 shows the plain CHARGE_AMOUNT_TOO_SMALL sentence', async () => {
    const page = await newShopper();
    await signInAs(page, 4001);
    await open(page, '/balance', 'Balance');
    await page.getByLabel('Amount to charge (KRW)').fill('500');
    const charge = page.getByRole('button', { name: 'Charge' });
    await charge.click();
    await poll(() => page.getByRole('alert').textContent()).toContain(ERROR_MESSAGES.CHARGE_AMOUNT_TOO_SMALL);
    await poll(() => page.getByTestId('balance').textContent()).toBe('₩0');
    await inspect(page, 'balance.too-small');
  }, 120_000);

  it('the other pages pass axe too: top 5, an upcoming sale, a sold-out product, a page that does not exist', async () => {
    const page = await newShopper();
    await open(page, '/top', 'Top 5 of the last 3 days');
    await page.getByRole('link', { name: 'Mechanical keyboard' }).waitFor();
    await inspect(page, 'top');
    await open(page, `/coupons/${ids.upcoming}`, 'Midnight sale');
    await page.getByText('Not open yet.').waitFor();
    await page.getByText('Opens in').waitFor();
    await inspect(page, 'coupon-sale.upcoming');
    await open(page, '/coupons', 'Coupon sales');
    await inspect(page, 'coupons');
    await open(page, `/products/${ids.pad}`, 'Mouse pad');
    await page.getByText('Sold out').waitFor();
    await inspect(page, 'product.sold-out');
    await open(page, '/cart', 'Cart');
    await inspect(page, 'cart.empty');
    await open(page, '/nowhere', 'Page not found');
    await inspect(page, 'not-found');
  }, 120_000);

  it('no page met a CSP violation or an uncaught error', () => {
    expect(pageProblems).toEqual([]);
  });
});
