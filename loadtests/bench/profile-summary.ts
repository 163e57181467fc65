// Summarises V8 .cpuprofile files (from `node --cpu-prof`): the functions with the most self
// time, grouped by function and file, so a miss can be traced to its cause without a GUI.
//   node loadtests/bench/profile-summary.ts <dir-or-file> [top=25]
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

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

if (import.meta.url === `file://${process.argv[1]}`) {
  const [target, top] = process.argv.slice(2);
  if (!target) throw new Error('usage: profile-summary.ts <dir-or-file> [top]');
  console.log(summarizeProfiles(target, Number(top ?? 25)));
}
