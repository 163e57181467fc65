// The waiting page in a real browser (Debian's Chromium through playwright-core) against the
// real API and worker on a fresh database and Redis prefix, as storefront.test.ts runs them.
// A shopper joins a paused room behind others, watches the queue move, is admitted when an admin
// raises the rate, lands on the sale and claims the coupon with the pass its tab kept; another
// whose pass has expired is sent back to the waiting page with a sentence, not a code.
// Screenshots at desktop and phone width land in test-results/web/waiting-room.*.png.
import path from 'node:path';
import { connectRedisClient, createKeys, type RedisClient, signToken } from '@flash/core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { ensureWebBuilt } from '../../../scripts/build-web.ts';
import { type Child, httpCall, startApi, startChild } from '../../../test/processes.ts';
import { createTestEnv, type TestEnv } from '../../../test/support.ts';
import { PASSES_KEY } from '../src/waiting-room.ts';
import { DESKTOP, launchChromium, SCREENSHOTS, screenshots, seriousViolations } from './browser.ts';

const UI_TIMEOUT = 20_000;
const poll = <T>(read: () => T | Promise<T>) => expect.poll(read, { timeout: UI_TIMEOUT, interval: 200 });
/** Shoppers who joined before the one in the browser. */
const AHEAD = 30;

describe('waiting room in Chromium', () => {
  let env: TestEnv;
  let api: Child & { url: string };
  let worker: Child;
  let browser: Browser;
  let redis: RedisClient;
  let admin: string;
  const contexts: BrowserContext[] = [];
  const pageProblems: string[] = [];
  const ids = { coupon: 0, product: 0, room: 0 };

  const call = async (kind: 'query' | 'mutation', procedure: string, input?: unknown, token = admin) => {
    const res = await httpCall(api.url, kind, procedure, input, token);
    if (res.status !== 200) throw new Error(`${procedure}: ${JSON.stringify(res.body)}`);
    return res.body.result.data;
  };
  const tokenOf = (userId: number) => signToken(env.config.jwtSecret, userId);

  beforeAll(async () => {
    await ensureWebBuilt();
    env = await createTestEnv();
    api = await startApi(env.childEnv, 90_000);
    worker = startChild('worker', env.childEnv);
    browser = await launchChromium();
    redis = await connectRedisClient(env.config, 'command', 'waiting-room-ui-test');
    admin = await signToken(env.config.jwtSecret, 1, { admin: true });
    ids.coupon = (
      await call('mutation', 'admin.coupon.create', {
        name: 'Sneaker drop ₩3,000',
        discount: { type: 'FIXED', value: 3_000 },
        totalQuantity: 20,
      })
    ).couponId;
    ids.product = (
      await call('mutation', 'admin.product.create', { name: 'Limited sneaker', price: 99_000, stock: 5 })
    ).id;
    ids.room = (
      await call('mutation', 'admin.waitingRoom.create', {
        name: 'Sneaker drop',
        couponIds: [ids.coupon],
        productIds: [ids.product],
        admitPerSecond: 1,
      })
    ).roomId;
    // Paused before anyone joins, so the queue stands still until the test moves it.
    await call('mutation', 'admin.waitingRoom.update', { roomId: ids.room, paused: true });
    for (let i = 1; i <= AHEAD; i++) {
      await call('mutation', 'waitingRoom.join', { roomId: ids.room }, await tokenOf(5000 + i));
    }
  }, 180_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await redis?.quit();
    await api?.kill('SIGTERM');
    await worker?.kill('SIGTERM');
    await env?.cleanup();
  });

  async function newShopper(): Promise<Page> {
    const context = await browser.newContext({ viewport: DESKTOP });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(UI_TIMEOUT);
    page.on('pageerror', (err) => pageProblems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error' && /Content Security Policy|Refused to/i.test(msg.text())) {
        pageProblems.push(`console: ${msg.text()}`);
      }
    });
    const shopper = contexts.length;
    onTestFailed(async ({ task }) => {
      const name = `failed.${task.name.slice(0, 30).replace(/\W+/g, '-')}.wr${shopper}`;
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

  async function inspect(page: Page, name: string): Promise<void> {
    await screenshots(page, name);
    const violations = await seriousViolations(page);
    expect(violations, `${name}: ${JSON.stringify(violations, null, 1)}`).toEqual([]);
  }

  const storedPass = (page: Page) =>
    page.evaluate((key) => {
      const stored = JSON.parse(sessionStorage.getItem(key) ?? '{}');
      return Object.values(stored.rooms ?? {}).map((r) => (r as { pass: string | null }).pass)[0] ?? null;
    }, PASSES_KEY);

  it('a shopper joins behind others, watches the queue move, is admitted and claims the coupon with its pass', async () => {
    const page = await newShopper();
    await page.goto(`${api.url}/#/waiting-room/${ids.room}`);
    await page.getByRole('heading', { level: 1, name: 'Sneaker drop: waiting room' }).waitFor();
    await page.getByText('Sign in (top of the page) to take your place in the queue.').waitFor();
    await inspect(page, 'waiting-room.signed-out');

    await signInAs(page, 6001);
    await poll(() => page.getByTestId('ticket').textContent()).toBe(String(AHEAD + 1));
    await page.getByText(`${AHEAD + 1} shoppers have joined; 0 have gone in.`).waitFor();
    expect(await page.getByTestId('ahead').textContent()).toBe(String(AHEAD));
    expect(await page.getByTestId('wait').textContent()).toBe('unknown while admission is paused');
    await page.getByText('Admission is paused for a moment. You keep your place in the queue.').waitFor();
    await inspect(page, 'waiting-room.paused');

    // One a second: the page's numbers move on their own polls of waitingRoom.get.
    await call('mutation', 'admin.waitingRoom.update', { roomId: ids.room, paused: false });
    await poll(async () => Number(await page.getByTestId('ahead').textContent())).toBeLessThan(AHEAD);
    expect(await page.getByTestId('wait').textContent()).toMatch(/^(less than a minute|a few seconds)$/);
    expect(Number(await page.locator('progress').getAttribute('value'))).toBeGreaterThan(0);
    await inspect(page, 'waiting-room.waiting');

    // Everyone in at once: the page takes the shopper straight to the sale.
    await call('mutation', 'admin.waitingRoom.update', { roomId: ids.room, admitPerSecond: 100_000 });
    await page.getByRole('heading', { level: 1, name: 'Sneaker drop ₩3,000' }).waitFor();
    expect(page.url()).toContain(`#/coupons/${ids.coupon}`);
    expect(await storedPass(page)).toMatch(new RegExp(`^${ids.room}\\.6001\\.${AHEAD + 1}\\.`));
    await page.getByRole('button', { name: 'Claim coupon' }).click();
    await page.getByText('You have this coupon.').waitFor();

    const mine = await call('query', 'coupon.mine', undefined, await tokenOf(6001));
    expect(mine.items.map((c: { couponId: number }) => c.couponId)).toEqual([ids.coupon]);
    // The pass went only where the room guards: the same call without it is refused.
    const without = await httpCall(
      api.url,
      'mutation',
      'coupon.issue',
      { couponId: ids.coupon },
      await tokenOf(6002),
    );
    expect(without.body.error.data).toMatchObject({ appCode: 'NOT_ADMITTED', roomId: ids.room });
  }, 240_000);

  it('a shopper whose pass expired is sent back to the waiting page with a sentence, not a code', async () => {
    const page = await newShopper();
    await signInAs(page, 6003);
    // The room now admits 100,000 a second: joining lands on the sale at once.
    await page.goto(`${api.url}/#/waiting-room/${ids.room}`);
    await page.getByRole('heading', { level: 1, name: 'Sneaker drop ₩3,000' }).waitFor();
    const fresh = await storedPass(page);
    expect(fresh).not.toBeNull();

    // Ten minutes pass (passTtlSeconds' default) without waiting them: the ticket's pass expiry,
    // which the room keeps in its hash as `<ticket>:<expiresAtMs>` for the user, is moved into
    // the past; the pass the service now signs for this ticket is the expired one the tab would
    // hold had the shopper lingered, and it goes into the tab's storage in place of the fresh one.
    const ticket = Number(fresh!.split('.')[2]);
    const roomKey = createKeys(env.config.redisKeyPrefix).waitingRoom(ids.room).room;
    expect(await redis.hget(roomKey, '6003')).toMatch(new RegExp(`^${ticket}:\\d+$`));
    await redis.hset(roomKey, '6003', `${ticket}:${Date.now() - 1000}`);
    const status = await call('query', 'waitingRoom.status', { roomId: ids.room }, await tokenOf(6003));
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
    await inspect(page, 'waiting-room.expired');

    const mine = await call('query', 'coupon.mine', undefined, await tokenOf(6003));
    expect(mine.items).toEqual([]);
  }, 180_000);

  it('no page met a CSP violation or an uncaught error', () => {
    expect(pageProblems).toEqual([]);
  });
});
