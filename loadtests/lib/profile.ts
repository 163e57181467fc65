// V8 .cpuprofile files (`node --cpu-prof`), read without a GUI:
// - summarizeProfiles: the functions with the most time, by function and by package
//   (`pnpm bench --profile`, or `node loadtests/lib/profile.ts <dir-or-file> [top=25]`);
// - attribute: where the sale rehearsal's CPU went, per API procedure and per worker queue.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../../test/processes.ts';

type Frame = { functionName: string; url: string; lineNumber: number };
type ProfileNode = { id: number; callFrame: Frame; children?: number[] };

function files(target: string): string[] {
  if (!existsSync(target)) return [];
  if (statSync(target).isFile()) return [target];
  return readdirSync(target, { recursive: true })
    .map((f) => path.join(target, String(f)))
    .filter((f) => f.endsWith('.cpuprofile'));
}

/** The sampled stacks of one profile (innermost frame first) with their time in µs. */
function stacks(file: string): { frames: Frame[]; us: number }[] {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: ProfileNode[];
    samples?: number[];
    timeDeltas?: number[];
  };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const time = new Map<number, number>();
  for (const [i, id] of (profile.samples ?? []).entries())
    time.set(id, (time.get(id) ?? 0) + (profile.timeDeltas?.[i] ?? 0));
  return [...time].map(([id, us]) => {
    const frames: Frame[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at))
      frames.push(byId.get(at)!.callFrame);
    return { frames, us };
  });
}

const shortUrl = (url: string) =>
  url.includes('node_modules/')
    ? url.slice(url.lastIndexOf('node_modules/') + 13)
    : url.replace(/^file:\/\/.*?\/(apps|packages|loadtests)\//, '$1/');
const keyOf = ({ functionName, url, lineNumber }: Frame) =>
  `${functionName || '(anonymous)'}${url ? ` ${shortUrl(url)}:${lineNumber + 1}` : ''}`;

/** Self time by area and by function, and inclusive time of project and library functions. */
export function summarizeProfile(file: string, top = 25): string {
  const byArea = new Map<string, number>();
  const byFunction = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const add = (m: Map<string, number>, k: string, us: number) => m.set(k, (m.get(k) ?? 0) + us);
  let total = 0;
  for (const { frames, us } of stacks(file)) {
    const leaf = frames[0]!;
    const where = shortUrl(leaf.url);
    const area = !leaf.url
      ? leaf.functionName.startsWith('(')
        ? leaf.functionName
        : '(native)'
      : where.startsWith('node:')
        ? 'node internals'
        : where
            .split('/')
            .slice(0, where.startsWith('@') ? 2 : 1)
            .join('/');
    add(byArea, area, us);
    add(byFunction, keyOf(leaf), us);
    // Each sample counts once for every distinct function on its stack.
    for (const key of new Set(frames.map(keyOf))) add(inclusive, key, us);
    total += us;
  }
  const share = (t: number) => `${((100 * t) / Math.max(total, 1)).toFixed(1).padStart(5)}%`;
  const ranked = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, t]) => `    ${share(t)}  ${k}`);
  const project = new Map(
    [...inclusive].filter(([k]) =>
      /(apps|packages|loadtests)\/|@trpc|fastify|ioredis|jose|zod|pino|bullmq/.test(k),
    ),
  );
  return [
    `${path.basename(path.dirname(file))}/${path.basename(file)}: ${(total / 1e6).toFixed(1)} s sampled`,
    '  by area:',
    ...ranked(byArea, 12),
    '  by function (self time):',
    ...ranked(byFunction, top),
    '  by function (inclusive, project and library code):',
    ...ranked(project, top),
  ].join('\n');
}

export function summarizeProfiles(target: string, top = 25): string {
  const found = files(target);
  if (found.length === 0) return `no .cpuprofile files under ${target}`;
  return found.map((f) => summarizeProfile(f, top)).join('\n\n');
}

/** Who a sample belongs to: frames in `files` (within `lines`, when given), or a call of `functions`. */
export type Owner = { name: string; files: string[]; lines?: [number, number]; functions: Set<string> };

/** Functions imported from @flash/core in `source` (camelCase: not types or schemas), and their module files. */
function coreImports(source: string) {
  const names = new Set<string>();
  const files: string[] = [];
  for (const m of source.matchAll(/import\s*\{([^}]*)\}\s*from\s*'@flash\/core(\/[^']+)?'/g)) {
    for (const name of m[1]!.split(',').map((n) => n.trim()))
      if (/^[a-z]/.test(name) && !name.startsWith('type ')) names.add(name.split(/\s+as\s+/)[0]!);
    if (m[2]) files.push(`packages/core/src${m[2].replace(/^\/internal/, '')}.ts`);
  }
  return { names, files };
}

/**
 * The API's procedures from the routers' source: each key of `export const <area>Router = {` owns
 * the router's lines down to the next key, and the @flash/core functions those lines call.
 */
export function procedureOwners(dir = path.join(ROOT, 'apps/api/src/routers')): Owner[] {
  const owners: Owner[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const source = readFileSync(path.join(dir, file), 'utf8');
    const lines = source.split('\n');
    const open = lines.findIndex((l) => /^export const \w+Router = \{/.test(l));
    if (open < 0) continue;
    const area = path.basename(file, '.ts').replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
    const { names } = coreImports(source);
    const keys: { key: string; at: number }[] = [];
    let end = open + 1;
    for (; end < lines.length && !/^\}/.test(lines[end]!); end++) {
      const key = /^ {2}(\w+):/.exec(lines[end]!)?.[1];
      if (key) keys.push({ key, at: end });
    }
    keys.forEach(({ key, at }, k) => {
      const to = (keys[k + 1]?.at ?? end) - 1;
      const code = lines
        .slice(at, to + 1)
        .filter((l) => !/^\s*(\/\/|\/?\*)/.test(l))
        .join('\n');
      const functions = new Set([...names].filter((n) => new RegExp(`\\b${n}\\b`).test(code)));
      owners.push({
        name: `${area}.${key}`,
        files: [`apps/api/src/routers/${file}`],
        lines: [at + 1, to + 1],
        functions,
      });
    });
  }
  return owners;
}

/** The worker's queues: each queue's folder, the core modules it imports and their functions. */
export function queueOwners(dir = path.join(ROOT, 'apps/worker/src')): Owner[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => {
      const files = readdirSync(path.join(dir, d.name)).filter((f) => f.endsWith('.ts'));
      const core = coreImports(files.map((f) => readFileSync(path.join(dir, d.name, f), 'utf8')).join('\n'));
      return { name: d.name, files: [`apps/worker/src/${d.name}/`, ...core.files], functions: core.names };
    });
}

/** Where a sample no owner claims went, by its innermost telling frame. */
function restOf(frames: Frame[]): string {
  const leaf = frames[0]!.functionName;
  if (leaf === '(garbage collector)') return 'garbage collection';
  if (leaf === '(program)') return 'V8 and native code outside JavaScript';
  if (frames.some((f) => f.url.startsWith('node:internal/modules/'))) return 'start-up: loading modules';
  for (const { url } of frames) {
    const area = /packages\/core\/src\/([\w-]+)\//.exec(url)?.[1];
    if (area) return `packages/core ${area} (in no owner's frames)`;
    if (/apps\/api\/src\//.test(url)) return 'API layer (auth, limits, tRPC binding, metrics)';
    if (/node_modules\/(\.pnpm\/)?(pg|pg-protocol|pg-pool|kysely)[@/]/.test(url)) return 'Postgres driver';
    if (/node_modules\/(\.pnpm\/)?(ioredis|bullmq|@ioredis)[@/]/.test(url)) return 'Redis driver and BullMQ';
    if (/node_modules\/(\.pnpm\/)?(fastify|@fastify|find-my-way|@trpc|pino|light-my-request)/.test(url))
      return 'HTTP server, tRPC, logging';
  }
  return 'Node internals and other libraries (sockets, timers, JSON)';
}

/** ms: main-thread time sampled busy, over every profile in the folder. */
export type Attribution = { busyMs: number; byOwner: Record<string, number>; rest: Record<string, number> };

/** Every busy (not idle) sample under `dir` to the innermost owner on its stack, else to a `rest` bucket. */
export function attribute(dir: string, owners: Owner[]): Attribution {
  const result: Attribution = { busyMs: 0, byOwner: {}, rest: {} };
  const owns = (o: Owner, f: Frame) =>
    (o.functions.has(f.functionName) && f.url.includes('/packages/core/src/')) ||
    (o.files.some((file) => (file.endsWith('/') ? f.url.includes(`/${file}`) : f.url.endsWith(file))) &&
      (!o.lines || (f.lineNumber + 1 >= o.lines[0] && f.lineNumber + 1 <= o.lines[1])));
  for (const file of files(dir)) {
    for (const { frames, us } of stacks(file)) {
      if (frames[0]!.functionName === '(idle)') continue;
      const owner = frames.map((f) => owners.find((o) => owns(o, f))?.name).find((o) => o !== undefined);
      const into = owner === undefined ? result.rest : result.byOwner;
      const name = owner ?? restOf(frames);
      into[name] = (into[name] ?? 0) + us / 1000;
      result.busyMs += us / 1000;
    }
  }
  return result;
}

if (import.meta.main) {
  const [target, top] = process.argv.slice(2);
  if (!target) throw new Error('usage: node loadtests/lib/profile.ts <dir-or-file> [top]');
  console.log(summarizeProfiles(target, Number(top ?? 25)));
}
