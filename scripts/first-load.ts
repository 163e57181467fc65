// The sale page's first load as a shopper's phone sees it: Chromium (Debian's, via playwright-core)
// with a phone's screen, a 4x slower CPU and a slow 4G link (150 ms round trip, 1.6 Mbit/s down,
// 750 kbit/s up), an empty cache, signed in. Measures the bytes on the wire (by kind) and the time
// from navigation until the "Claim coupon" button is on screen and works, for a few cold loads,
// and writes the runs and their medians as JSON.
//
//   pnpm start                                   # or any API serving the storefront build
//   node scripts/first-load.ts [--url http://127.0.0.1:3000] [--runs 5] [--out docs/first-load.json]
//
// It creates one coupon through admin.coupon.create and signs its tokens with the server's
// AUTH_JWT_SECRET (the development default unless set), so point it at a development server.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, signToken } from '@flash/core';
import { chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const PHONE = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 3,
  isMobile: true,
  hasTouch: true,
  userAgent:
    'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36',
};
/** Lighthouse's mobile profile: slow 4G and a CPU four times slower than this machine's. */
const NETWORK = {
  latency: 150,
  downloadThroughput: (1.6 * 1024 * 1024) / 8,
  uploadThroughput: (750 * 1024) / 8,
};
const CPU_SLOWDOWN = 4;

type Run = {
  claimButtonMs: number;
  bytes: { total: number; script: number; stylesheet: number; font: number; document: number; other: number };
  requests: number;
};

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:3000' },
    runs: { type: 'string', default: '5' },
    out: { type: 'string', default: path.resolve(import.meta.dirname, '../docs/first-load.json') },
  },
});
const base = values.url.replace(/\/$/, '');

async function trpc(procedure: string, input: unknown, token: string): Promise<any> {
  const res = await fetch(`${base}/trpc/${procedure}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(input),
  });
  const body = (await res.json()) as any;
  if (!res.ok) throw new Error(`${procedure}: ${JSON.stringify(body)}`);
  return body.result.data;
}

async function measure(couponId: number, token: string): Promise<Run> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  try {
    const context = await browser.newContext(PHONE);
    // The host page's sign-in leaves the token here before the app opens (README, Frontend).
    await context.addInitScript((t) => sessionStorage.setItem('flash.token', t), token);
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
    await cdp.send('Network.emulateNetworkConditions', { offline: false, ...NETWORK });
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: CPU_SLOWDOWN });
    const kinds = new Map<string, string>();
    const bytes: Run['bytes'] = { total: 0, script: 0, stylesheet: 0, font: 0, document: 0, other: 0 };
    let requests = 0;
    let counting = true;
    cdp.on('Network.responseReceived', (e) => kinds.set(e.requestId, String(e.type).toLowerCase()));
    cdp.on('Network.loadingFinished', (e) => {
      if (!counting) return;
      const kind = kinds.get(e.requestId) ?? 'other';
      const key = kind in bytes && kind !== 'total' ? (kind as keyof Run['bytes']) : 'other';
      bytes[key] += e.encodedDataLength;
      bytes.total += e.encodedDataLength;
      requests++;
    });
    await page.goto(`${base}/#/coupons/${couponId}`, { waitUntil: 'commit' });
    const claim = page.getByRole('button', { name: 'Claim coupon' });
    await claim.waitFor({ state: 'visible', timeout: 60_000 });
    if (!(await claim.isEnabled())) throw new Error('the claim button is disabled');
    // Time since the navigation started, by the page's own clock.
    const claimButtonMs = Math.round(await page.evaluate(() => performance.now()));
    // Responses still arriving for what the page asked for so far (fonts, the first polls) count too.
    await page.waitForLoadState('networkidle').catch(() => {});
    counting = false;
    return { claimButtonMs, bytes, requests };
  } finally {
    await browser.close();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

const config = loadConfig();
const admin = await signToken(config.jwtSecret, 1, { admin: true, expiresIn: '1h' });
const shopper = await signToken(config.jwtSecret, 900_001, { expiresIn: '1h' });
const { couponId } = await trpc(
  'admin.coupon.create',
  { name: 'First-load probe', discount: { type: 'FIXED', value: 1_000 }, totalQuantity: 1_000_000 },
  admin,
);
const runs: Run[] = [];
for (let i = 0; i < Number(values.runs); i++) {
  runs.push(await measure(couponId, shopper));
  console.log(JSON.stringify(runs.at(-1)));
}
const result = {
  measuredAt: new Date().toISOString(),
  command: `node scripts/first-load.ts --runs ${values.runs}`,
  page: 'coupon sale page (#/coupons/:id), signed in, empty cache',
  profile: { ...PHONE, network: NETWORK, cpuSlowdown: CPU_SLOWDOWN },
  median: {
    claimButtonMs: median(runs.map((r) => r.claimButtonMs)),
    totalBytes: median(runs.map((r) => r.bytes.total)),
    scriptBytes: median(runs.map((r) => r.bytes.script)),
    stylesheetBytes: median(runs.map((r) => r.bytes.stylesheet)),
    fontBytes: median(runs.map((r) => r.bytes.font)),
    requests: median(runs.map((r) => r.requests)),
  },
  runs,
};
writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
console.log(`median: ${JSON.stringify(result.median)} -> ${values.out}`);
