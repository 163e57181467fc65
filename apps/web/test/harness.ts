// What both browser test files stand on: the real API and worker (child processes, as `pnpm start`
// runs them) on a fresh database and Redis prefix, the app being the production build the API
// serves at `/`, one Chromium for the file, and a browser context of its own for each shopper,
// closed when its test ends.
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildServer } from '@flash/api';
import { type Config, signToken } from '@flash/core';
import type { Browser, Page } from 'playwright-core';
import type { TestContext } from 'vitest';
import { ensureWebBuilt } from '../../../scripts/build-web.ts';
import { type Child, httpCall, startApi, startChild } from '../../../test/processes.ts';
import { createTestEnv, type TestEnv } from '../../../test/support.ts';
import { DESKTOP, launchChromium, SCREENSHOTS, screenshots, seriousViolations } from './browser.ts';

/** How long a page may take to show what a step waits for: a loaded machine runs Chromium slowly. */
export const UI_TIMEOUT = 30_000;
/** Each browser test's limit, its wait for a browser slot included. */
export const TEST_TIMEOUT = 300_000;
/** The stack's start: a loaded machine can take many seconds to boot node and load the app. */
export const SETUP_TIMEOUT = 180_000;

/** A test's own expect.poll (tests run concurrently), with the page's patience. */
export const pollerOf =
  (t: TestContext) =>
  <T>(read: () => T | Promise<T>) =>
    t.expect.poll(read, { timeout: UI_TIMEOUT, interval: 100 });

/** At most `size` bodies run at once; the others wait their turn, first come first served. */
export function slots(size: number) {
  let free = size;
  const waiting: (() => void)[] = [];
  return async <T>(body: () => Promise<T>): Promise<T> => {
    if (free > 0) free--;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await body();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else free++;
    }
  };
}

/**
 * `ensureWebBuilt`, one test file at a time: the browser files run in parallel, and two Vite
 * builds into one apps/web/dist would empty it under each other. A directory is the lock (mkdir
 * is atomic); one older than a build could take is left from a killed run and taken over.
 */
async function ensureWebBuiltAlone(): Promise<void> {
  const lock = path.join(
    tmpdir(),
    `flash-web-build-${path.resolve(import.meta.dirname).replace(/\W+/g, '-')}`,
  );
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST') throw err;
      const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 120_000) rmSync(lock, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    await ensureWebBuilt();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export type Api = { url: string };

export type Stack = {
  env: TestEnv;
  api: Api & Child;
  /**
   * Further APIs on the same database and Redis, each with some settings of its own. They are
   * the same server built in this process (booting another node would cost the CPU the browser
   * needs), and they serve the same app.
   */
  variants: Record<string, Api>;
  worker: Child;
  browser: Browser;
  /** An admin's token. */
  admin: string;
  tokenOf(userId: number): Promise<string>;
  /** A procedure over HTTP on `api`, as the admin unless a token is given; its data, or throws. */
  call(kind: 'query' | 'mutation', procedure: string, input?: unknown, token?: string): Promise<any>;
  close(): Promise<void>;
};

/**
 * Builds the app if it is stale, then starts Chromium, the API (and its variants) and the worker
 * at once. Whatever started is stopped again if any part fails.
 */
export async function startStack(
  options: { variants?: Record<string, Partial<Config>> } = {},
): Promise<Stack> {
  await ensureWebBuiltAlone();
  const browserStarting = launchChromium();
  const started: { kill(signal?: NodeJS.Signals): Promise<void> }[] = [];
  const pending: Promise<unknown>[] = [browserStarting];
  let env: TestEnv | undefined;
  try {
    env = await createTestEnv();
    const testEnv = env;
    const api = startApi(testEnv.childEnv, 90_000).then((child) => {
      started.push(child);
      return child;
    });
    const variants = Object.entries(options.variants ?? {}).map(async ([name, settings]) => {
      const app = await buildServer({ ...testEnv.config, ...settings }, { logger: false });
      started.push({ kill: () => app.close() });
      const url = await app.listen({ port: 0, host: '127.0.0.1' });
      return [name, { url }] as [string, Api];
    });
    const worker = startChild('worker', testEnv.childEnv);
    started.push(worker);
    pending.push(api, ...variants);
    const [main, browser, named] = await Promise.all([api, browserStarting, Promise.all(variants)]);
    const admin = await signToken(testEnv.config.jwtSecret, 1, { admin: true });
    return {
      env: testEnv,
      api: main,
      variants: Object.fromEntries(named),
      worker,
      browser,
      admin,
      tokenOf: (userId) => signToken(testEnv.config.jwtSecret, userId),
      async call(kind, procedure, input, token = admin) {
        const res = await httpCall(main.url, kind, procedure, input, token);
        if (res.status !== 200) throw new Error(`${procedure}: ${JSON.stringify(res.body)}`);
        return res.body.result.data;
      },
      async close() {
        await browser.close();
        await Promise.all(started.map((child) => child.kill('SIGTERM')));
        await testEnv.cleanup();
      },
    };
  } catch (err) {
    // Everything that was starting has started or failed before it is stopped.
    await Promise.allSettled(pending);
    await browserStarting.then((b) => b.close()).catch(() => {});
    await Promise.all(started.map((child) => child.kill()));
    await env?.cleanup();
    throw err;
  }
}

/** A shopper's browser: its page, what went wrong on it, and the test it belongs to. */
export type Shopper = { page: Page; problems: string[]; t: TestContext };

let shoppers = 0;

/**
 * A new browser context on the app (on `base`, the stack's API unless given). Its page records
 * uncaught errors and CSP refusals in `problems`, is screenshotted if its test fails, and closes
 * with the test, so a finished test's page stops polling the API.
 */
export async function newShopper(
  stack: Stack,
  t: TestContext,
  options: { viewport?: typeof DESKTOP; base?: string } = {},
): Promise<Shopper> {
  const context = await stack.browser.newContext({ viewport: options.viewport ?? DESKTOP });
  const page = await context.newPage();
  page.setDefaultTimeout(UI_TIMEOUT);
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy|Refused to/i.test(msg.text())) {
      problems.push(`console: ${msg.text()}`);
    }
  });
  const number = ++shoppers;
  // vitest calls onTestFinished before onTestFailed: the screenshot of a failure is taken here,
  // before the context closes.
  t.onTestFinished(async () => {
    if (t.task.result?.state === 'fail') {
      const name = `failed.${t.task.name.slice(0, 30).replace(/\W+/g, '-')}.${number}`;
      mkdirSync(SCREENSHOTS, { recursive: true });
      await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true }).catch(() => {});
    }
    await context.close().catch(() => {});
  });
  await page.goto(`${options.base ?? stack.api.url}/`);
  return { page, problems, t };
}

/** The end of a shopper's visit: no uncaught error or CSP refusal on any of its pages. */
export async function closeShopper({ page, problems, t }: Shopper): Promise<void> {
  t.expect(problems).toEqual([]);
  await page.context().close();
}

/** Signs in through the header's form, as a shopper would outside production. */
export async function signInAs({ page, t }: Shopper, userId: number): Promise<void> {
  await page.getByLabel('User id').fill(String(userId));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await pollerOf(t)(() => page.getByTestId('user-id').textContent()).toBe(String(userId));
}

/** Goes to one of the app's routes (a hash) and waits for its heading. */
export async function open(page: Page, hash: string, heading: string | RegExp): Promise<void> {
  const base = new URL(page.url()).origin;
  await page.goto(`${base}/#${hash}`);
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
}

/** Screenshots at desktop and phone width and an axe check of the page as it stands. */
export async function inspect({ page, t }: Shopper, name: string): Promise<void> {
  await screenshots(page, name);
  const violations = await seriousViolations(page);
  t.expect(violations, `${name}: ${JSON.stringify(violations, null, 1)}`).toEqual([]);
}
