// Browser helpers for the storefront tests: Debian's Chromium driven by playwright-core (which
// downloads nothing), axe-core checks, and screenshots of every page at two widths.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';

/**
 * Debian's chromium-headless-shell where it is installed (.ci/run installs it): the headless-only
 * build Playwright itself runs for headless tests. Each page costs it a fraction of the CPU the
 * full browser spends (no browser profile and UI services per page), which decides how long the
 * browser tests take on two cores. The full browser, the same version, otherwise.
 */
export const CHROMIUM = ['/usr/bin/chromium-headless-shell', '/usr/bin/chromium'].find((exe) =>
  existsSync(exe),
)!;
export const SCREENSHOTS = path.resolve(import.meta.dirname, '../../../test-results/web');

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export type AxeViolation = {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[] }[];
};

/**
 * axe-core's serious and critical violations on the page as it is now. The source is evaluated
 * through the DevTools protocol, which the page's CSP (script-src 'self') does not govern, so
 * the app is checked under its real policy.
 */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  // Once per document: the app's routes are hash changes, so axe stays loaded across pages.
  if (!(await page.evaluate(() => 'axe' in globalThis))) await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run();
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target })),
    }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Saves the page at desktop and phone width under test-results/web/ (git-ignored). */
export async function screenshots(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const size = page.viewportSize() ?? DESKTOP;
  for (const [label, viewport] of [
    ['desktop', DESKTOP],
    ['phone', PHONE],
  ] as const) {
    await page.setViewportSize(viewport);
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.${label}.png`), fullPage: true });
  }
  await page.setViewportSize(size);
}
