// Drives HTTP load with wrk (a C load generator, from the OS's packages) instead of autocannon.
//
// Why: on a 2-core machine the load generator shares the cores with the server, Redis and
// Postgres. autocannon (JavaScript) spends about as much CPU per request as the server it
// measures, plus its garbage collections, so what it reports is as much its own cost as the
// server's; wrk spends a fraction of that (the load generator CPU column shows both).
//
// Every request stays distinct, as with autocannon: the row's `next()` renders them in advance
// into a file of raw HTTP/1.1 requests that wrk-requests.lua replays, each thread its own share.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CLOCK_TICKS } from './children.ts';
import type { LoadOptions, LoadStats, RequestSpec } from './load.ts';

const SCRIPT = path.join(import.meta.dirname, 'wrk-requests.lua');
/** wrk's percentiles and durations are in µs. */
const US_PER_MS = 1000;

export type WrkOptions = LoadOptions & {
  /**
   * Requests rendered per second of each phase: more than the fastest row can answer, since a
   * thread that runs out starts its share again (counted in `repeats`).
   */
  maxRps: number;
  threads: number;
};

/** The wrk binary's version line, or undefined when wrk is not installed. */
export function wrkVersion(): string | undefined {
  const probe = spawnSync('wrk', ['-v'], { encoding: 'utf8' });
  if (probe.error) return undefined;
  return /wrk \S+/.exec(probe.stdout)?.[0] ?? 'wrk';
}

/** One request as it goes on the wire (what autocannon would send for the same spec). */
export function renderRequest(spec: RequestSpec, host: string): string {
  let head = `${spec.method} ${spec.path} HTTP/1.1\r\nHost: ${host}\r\n`;
  for (const [name, value] of Object.entries(spec.headers ?? {})) head += `${name}: ${value}\r\n`;
  if (spec.body !== undefined) head += `Content-Length: ${Buffer.byteLength(spec.body)}\r\n`;
  const request = `${head}\r\n${spec.body ?? ''}`;
  if (request.includes('\0')) throw new Error(`a request holds a NUL byte: ${spec.method} ${spec.path}`);
  return request;
}

/** Writes `count` requests from `next` to `file`, NUL-separated, in chunks of about 1 MB. */
function renderRequests(options: LoadOptions, count: number, file: string): void {
  const host = new URL(options.url).host;
  const fd = openSync(file, 'w');
  try {
    const context: Record<string, any> = {};
    let chunk = '';
    for (let i = 0; i < count; i++) {
      chunk += `${renderRequest(options.next(context), host)}\0`;
      if (chunk.length > 1 << 20) {
        writeSync(fd, chunk);
        chunk = '';
      }
    }
    writeSync(fd, chunk);
  } finally {
    closeSync(fd);
  }
}

type WrkResult = {
  requests: number;
  durationUs: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
  wraps: number;
  /** Answers of WRK_EXPECT_STATUS (0 when it is not set). */
  expected: number;
  cpuTicks: number;
};

/** Parses the line wrk-requests.lua's done() prints. */
export function parseWrkResult(stdout: string): WrkResult {
  const line = /^WRK_RESULT (\{.*\})$/m.exec(stdout);
  if (!line) throw new Error(`wrk printed no result line:\n${stdout}`);
  return JSON.parse(line[1]!) as WrkResult;
}

function runWrk(options: WrkOptions, durationSec: number, file: string): Promise<WrkResult> {
  const argv = [
    `--threads=${options.threads}`,
    `--connections=${options.connections}`,
    `--duration=${durationSec}s`,
    '--timeout=10s',
    `--script=${SCRIPT}`,
    options.url,
    '--',
    file,
    String(options.threads),
  ];
  return new Promise((resolve, reject) => {
    const env =
      options.expectStatus === undefined
        ? process.env
        : { ...process.env, WRK_EXPECT_STATUS: String(options.expectStatus) };
    const child = spawn('wrk', argv, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`wrk exited with ${code}:\n${stderr}${stdout}`));
      try {
        resolve(parseWrkResult(stdout));
      } catch (err) {
        reject(err);
      }
    });
  });
}

async function phase(
  options: WrkOptions,
  durationSec: number,
  amount: number | undefined,
): Promise<LoadStats> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-wrk-'));
  try {
    const file = path.join(dir, 'requests');
    const count = Math.min(amount ?? Number.POSITIVE_INFINITY, Math.ceil(options.maxRps * durationSec));
    renderRequests(options, Math.max(count, options.threads), file);
    const r = await runWrk(options, durationSec, file);
    const durationSecMeasured = r.durationUs / 1e6;
    const ok = r.requests - r.status;
    // Answers of expectStatus (counted by the script only when asked) are not errors.
    const expected = options.expectStatus === undefined ? 0 : r.expected;
    return {
      requests: r.requests,
      durationSec: durationSecMeasured,
      rps: r.requests / durationSecMeasured,
      p50: r.p50 / US_PER_MS,
      p95: r.p95 / US_PER_MS,
      p99: r.p99 / US_PER_MS,
      max: r.max / US_PER_MS,
      errors: r.connect + r.read + r.write + r.timeout + r.status - expected,
      // wrk counts answers of 400 and above; everything else it saw was a 2xx here.
      statusCounts:
        options.expectStatus === undefined
          ? { '2xx': ok, '4xx/5xx': r.status }
          : { '2xx': ok, [options.expectStatus]: expected, 'other 4xx/5xx': r.status - expected },
      loadgenCpuMs: r.cpuTicks >= 0 ? (r.cpuTicks * 1000) / CLOCK_TICKS : Number.NaN,
      repeats: r.wraps,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** runLoad's contract with wrk: a warm-up thrown away, then the measured window. */
export async function runWrkLoad(options: WrkOptions): Promise<LoadStats> {
  if (options.warmupSec) await phase(options, options.warmupSec, undefined);
  return phase(options, options.durationSec, options.amount);
}
