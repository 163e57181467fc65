// Builds the storefront (apps/web → apps/web/dist) when its build is missing or older than any
// of its sources, so `pnpm start` serves a current app at `/` without rebuilding every time.
// `node scripts/build-web.ts [--force]` builds on its own.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';

const root = path.resolve(import.meta.dirname, '..');
export const WEB_DIR = path.join(root, 'apps', 'web');
export const WEB_DIST = path.join(WEB_DIR, 'dist');
/** What the build reads: a change to any of these makes the build stale. */
const INPUTS = ['src', 'public', 'index.html', 'vite.config.ts', 'package.json'];

function newestMtime(file: string): number {
  if (!existsSync(file)) return 0;
  const stat = statSync(file);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(file)) newest = Math.max(newest, newestMtime(path.join(file, entry)));
  return newest;
}

/** Why the build must be made again, or undefined when it is current. */
export function webBuildStaleness(): string | undefined {
  const index = path.join(WEB_DIST, 'index.html');
  if (!existsSync(index)) return 'no build yet';
  const built = statSync(index).mtimeMs;
  const changed = INPUTS.find((input) => newestMtime(path.join(WEB_DIR, input)) > built);
  return changed ? `apps/web/${changed} changed since the last build` : undefined;
}

/** `vite build` under this Node (the machine's own node may be older than Vite needs). */
export function buildWeb(): Promise<void> {
  const vite = path.join(WEB_DIR, 'node_modules', 'vite', 'bin', 'vite.js');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [vite, 'build', '--logLevel', 'warn'], {
      cwd: WEB_DIR,
      // Vite follows NODE_ENV: under `test` or `development` (vitest, pnpm start) it would bundle
      // React's development build. This is always the production build.
      env: { ...process.env, NODE_ENV: 'production' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`vite build exited with ${code}`)),
    );
  });
}

/** Text the build emits; fonts (woff2) and images arrive compressed already. */
const COMPRESSIBLE = /\.(?:js|css|html|svg|json|txt)$/;
const brotli = promisify(brotliCompress);
const gzipped = promisify(gzip);

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(file) : [file];
  });
}

/**
 * Writes `file.br` (brotli, best quality) and `file.gz` (gzip -9) next to every text file of the
 * build, once, so the API sends each shopper the smaller copy its Accept-Encoding allows without
 * compressing per request (web-app.ts, @fastify/static's preCompressed). A copy that would not be
 * smaller is not written.
 */
export async function compressBuild(dir = WEB_DIST): Promise<void> {
  await Promise.all(
    filesUnder(dir)
      .filter((file) => COMPRESSIBLE.test(file))
      .map(async (file) => {
        const raw = await readFile(file);
        const [br, gz] = await Promise.all([
          brotli(raw, {
            params: {
              [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
              [constants.BROTLI_PARAM_SIZE_HINT]: raw.length,
            },
          }),
          gzipped(raw, { level: 9 }),
        ]);
        if (br.length < raw.length) await writeFile(`${file}.br`, br);
        if (gz.length < raw.length) await writeFile(`${file}.gz`, gz);
      }),
  );
}

/** Where progress goes: `pnpm start` passes its pino logger, so its output stays JSON lines. */
type ProgressLog = { info: (message: string) => void };
const consoleLog: ProgressLog = { info: (message) => console.log(`[web] ${message}`) };

/** Builds the storefront unless its build is current; says so either way. */
export async function ensureWebBuilt(options: { force?: boolean; log?: ProgressLog } = {}): Promise<void> {
  const log = options.log ?? consoleLog;
  const reason = options.force ? 'forced' : webBuildStaleness();
  if (!reason) return;
  log.info(`building the storefront (${reason})`);
  const started = Date.now();
  await buildWeb();
  await compressBuild();
  log.info(`built apps/web/dist in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (import.meta.main) {
  ensureWebBuilt({ force: process.argv.includes('--force') }).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
