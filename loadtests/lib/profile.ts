// V8 .cpuprofile files (from `node --cpu-prof`), read without a GUI:
// - summarizeProfiles: the functions with the most self time, by function and by package
//   (`pnpm bench --profile`, or `node loadtests/lib/profile.ts <dir-or-file> [top=25]`);
// - attribute: where the sale rehearsal's CPU went, per API procedure and per worker queue
//   (`pnpm loadtest sale`, lib/sale-report.ts states the method).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../../test/processes.ts';

type ProfileNode = {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
};
type Profile = { nodes: ProfileNode[]; samples?: number[]; timeDeltas?: number[] };

function files(target: string): string[] {
  if (!existsSync(target)) return [];
  if (statSync(target).isFile()) return [target];
  return readdirSync(target, { recursive: true })
    .map((f) => path.join(target, String(f)))
    .filter((f) => f.endsWith('.cpuprofile'));
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).replace(/^\.pnpm\/[^/]+\/node_modules\//, '');
    return rest;
  }
  return url.replace(/^file:\/\/.*?\/(apps|packages|loadtests)\//, '$1/').replace(/^node:/, 'node:');
}

/** Self time per function and per package/area, as shares of all samples. */
export function summarizeProfile(file: string, top = 25): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  let total = 0;
  for (let i = 0; i < samples.length; i++) {
    const dt = deltas[i] ?? 0;
    self.set(samples[i]!, (self.get(samples[i]!) ?? 0) + dt);
    total += dt;
  }
  const byFunction = new Map<string, number>();
  const byArea = new Map<string, number>();
  for (const [id, time] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = shortUrl(url);
    const key = `${functionName || '(anonymous)'} ${where ? `${where}:${lineNumber + 1}` : ''}`.trim();
    byFunction.set(key, (byFunction.get(key) ?? 0) + time);
    const area = !url
      ? functionName.startsWith('(')
        ? functionName
        : '(native)'
      : where.startsWith('node:')
        ? 'node internals'
        : where
            .split('/')
            .slice(0, where.startsWith('@') ? 2 : 1)
            .join('/');
    byArea.set(area, (byArea.get(area) ?? 0) + time);
  }
  // Inclusive time: each sample counts once for every distinct function on its stack.
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const keyOf = (node: ProfileNode) => {
    const { functionName, url, lineNumber } = node.callFrame;
    const where = shortUrl(url);
    return `${functionName || '(anonymous)'} ${where ? `${where}:${lineNumber + 1}` : ''}`.trim();
  };
  const inclusive = new Map<string, number>();
  for (const [id, time] of self) {
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at);
      if (!node) break;
      const key = keyOf(node);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + time);
    }
  }
  const share = (t: number) => `${((100 * t) / Math.max(total, 1)).toFixed(1).padStart(5)}%`;
  const lines = [
    `${path.basename(path.dirname(file))}/${path.basename(file)}: ${(total / 1e6).toFixed(1)} s sampled`,
  ];
  lines.push('  by area:');
  for (const [area, t] of [...byArea].sort((a, b) => b[1] - a[1]).slice(0, 12))
    lines.push(`    ${share(t)}  ${area}`);
  lines.push('  by function (self time):');
  for (const [fn, t] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top))
    lines.push(`    ${share(t)}  ${fn}`);
  lines.push('  by function (inclusive, project and library code):');
  const interesting = [...inclusive]
    .filter(([key]) => /(apps|packages|loadtests)\/|@trpc|fastify|ioredis|jose|zod|pino|bullmq/.test(key))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top);
  for (const [fn, t] of interesting) lines.push(`    ${share(t)}  ${fn}`);
  return lines.join('\n');
}

export function summarizeProfiles(target: string, top = 25): string {
  const found = files(target);
  if (found.length === 0) return `no .cpuprofile files under ${target}`;
  return found.map((f) => summarizeProfile(f, top)).join('\n\n');
}

/** Who a sample belongs to: frames in `file` (within `lines`, when given), or a call of `functions`. */
export type Owner = { name: string; files: string[]; lines?: [number, number]; functions: Set<string> };

/** Names imported from @flash/core in `source`, and the core module files they come from. */
function coreImports(source: string) {
  const names = new Set<string>();
  const files: string[] = [];
  for (const m of source.matchAll(/import\s*\{([^}]*)\}\s*from\s*'@flash\/core(\/[^']+)?'/g)) {
    for (const name of m[1]!.split(',')) {
      const id = name.trim();
      // Functions only (camelCase): not types, enums or schemas.
      if (/^[a-z]/.test(id) && !id.startsWith('type ')) names.add(id.split(/\s+as\s+/)[0]!);
    }
    if (m[2]) files.push(`packages/core/src${m[2].replace(/^\/internal/, '')}.ts`);
  }
  return { names, files };
}

/**
 * The API's procedures, from the routers' source: each key of `export const <area>Router = {`
 * owns the router's lines down to the next key, and the @flash/core functions those lines call
 * (an async function's continuation keeps its own frame, so its later samples count too).
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
    let end = open;
    for (let i = open + 1; i < lines.length && !/^\}/.test(lines[i]!); i++, end = i) {
      const key = /^ {2}(\w+):/.exec(lines[i]!)?.[1];
      if (key) keys.push({ key, at: i });
    }
    keys.forEach(({ key, at }, k) => {
      const to = (keys[k + 1]?.at ?? end) - 1;
      const text = lines
        .slice(at, to + 1)
        .filter((l) => !/^\s*(\/\/|\/?\*)/.test(l))
        .join('\n');
      const functions = new Set([...names].filter((n) => new RegExp(`\\b${n}\\b`).test(text)));
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
      const source = files.map((f) => readFileSync(path.join(dir, d.name, f), 'utf8')).join('\n');
      const core = coreImports(source);
      return { name: d.name, files: [`apps/worker/src/${d.name}/`, ...core.files], functions: core.names };
    });
}

/** Where a sample no owner claims went, by its innermost frame. */
function restOf(frames: ProfileNode['callFrame'][]): string {
  const leaf = frames[0]!;
  if (leaf.functionName === '(garbage collector)') return 'garbage collection';
  if (leaf.functionName === '(program)') return 'V8 and native code outside JavaScript';
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

export type Attribution = {
  /** Main-thread time sampled while busy, over every profile in the folder, ms. */
  busyMs: number;
  byOwner: Record<string, number>;
  rest: Record<string, number>;
};

/**
 * Every busy sample of the profiles under `dir` (one per process) to the innermost owner on its
 * stack, else to a `rest` bucket by its innermost frame. Idle samples are left out.
 */
export function attribute(dir: string, owners: Owner[]): Attribution {
  const result: Attribution = { busyMs: 0, byOwner: {}, rest: {} };
  const line = (f: ProfileNode['callFrame'], o: Owner) =>
    !o.lines || (f.lineNumber + 1 >= o.lines[0] && f.lineNumber + 1 <= o.lines[1]);
  const inFile = (url: string, file: string) =>
    file.endsWith('/') ? url.includes(`/${file}`) : url.endsWith(file);
  const ownerOf = (f: ProfileNode['callFrame']) =>
    owners.find(
      (o) =>
        (o.functions.has(f.functionName) && f.url.includes('/packages/core/src/')) ||
        (o.files.some((file) => inFile(f.url, file)) && line(f, o)),
    )?.name;
  for (const file of files(dir)) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const cache = new Map<number, string>();
    const deltas = profile.timeDeltas ?? [];
    (profile.samples ?? []).forEach((id, i) => {
      const ms = (deltas[i] ?? 0) / 1000;
      if (byId.get(id)?.callFrame.functionName === '(idle)') return;
      let bucket = cache.get(id);
      if (bucket === undefined) {
        const frames: ProfileNode['callFrame'][] = [];
        for (let at: number | undefined = id; at !== undefined; at = parent.get(at))
          frames.push(byId.get(at)!.callFrame);
        const owner = frames.map(ownerOf).find((o) => o !== undefined);
        bucket = owner === undefined ? `rest:${restOf(frames)}` : `owner:${owner}`;
        cache.set(id, bucket);
      }
      const [kind, name] = [bucket.slice(0, bucket.indexOf(':')), bucket.slice(bucket.indexOf(':') + 1)];
      const into = kind === 'owner' ? result.byOwner : result.rest;
      into[name] = (into[name] ?? 0) + ms;
      result.busyMs += ms;
    });
  }
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [target, top] = process.argv.slice(2);
  if (!target) throw new Error('usage: node loadtests/lib/profile.ts <dir-or-file> [top]');
  console.log(summarizeProfiles(target, Number(top ?? 25)));
}
