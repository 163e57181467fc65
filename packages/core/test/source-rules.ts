// Static rules over the source of packages/core and the apps, read as text: module-level state,
// import cycles (type-only imports included) and layer rules. The sources are Biome-formatted
// (`pnpm lint` checks it), so a top-level statement is a line that starts at column 0; the rules
// below lean on that and say so.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/** Every `.ts` file under `dir` (recursively), tests excluded unless asked for. */
export function sourceFiles(dir: string, options: { tests?: boolean } = {}): string[] {
  const files: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) files.push(...sourceFiles(full, options));
    else if (name.endsWith('.ts') && (options.tests || !name.endsWith('.test.ts'))) files.push(full);
  }
  return files.sort();
}

/** The source without comments (strings are left alone; a `//` inside one is rare enough here). */
export function stripComments(source: string): string {
  return source
    .replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' '))
    .replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

/**
 * Module-level mutable state in one file, as "line: reason". A violation is a top-level
 * (column 0) statement that is:
 * - a `let` or `var` declaration;
 * - a `const` whose initializer is a new collection (`new Map`, `new Set`, `new WeakMap`,
 *   `new WeakSet`, `new Array`, `[]` or `{}`), unless its declared type is read-only
 *   (`ReadonlySet<…>`, `ReadonlyMap<…>`, `readonly …[]`, `Readonly<…>`): then the compiler
 *   forbids changing it;
 * - any use of `perRuntimeMap` (the module-level WeakMap of maps this codebase used to keep);
 * - a top-level `Symbol(…)`: a module-private key to hang state on objects this module did not
 *   build (a connection, a client), which is a WeakMap by another name.
 * State belongs to an object the composition root builds (runtime.ts).
 */
export function moduleStateViolations(source: string): string[] {
  const lines = stripComments(source).split('\n');
  const found: string[] = [];
  for (const [i, line] of lines.entries()) {
    if (/\bperRuntimeMap\b/.test(line)) found.push(`${i + 1}: perRuntimeMap`);
    if (/^\s/.test(line)) continue;
    if (/^(export\s+)?(let|var)\s/.test(line)) {
      found.push(`${i + 1}: top-level ${line.split(/\s+/).find((w) => w === 'let' || w === 'var')}`);
      continue;
    }
    const decl = /^(?:export\s+)?const\s+[\w$]+\s*(?::\s*([^=]+?))?\s*=\s*(.*)$/.exec(line);
    if (!decl) continue;
    const type = decl[1]?.trim() ?? '';
    const init = decl[2]!.trim();
    if (/^Symbol\s*\(/.test(init)) {
      found.push(`${i + 1}: top-level Symbol key`);
      continue;
    }
    const readonly = /^(Readonly|readonly\s)/.test(type);
    if (!readonly && /^(new\s+(Weak)?(Map|Set)\b|new\s+Array\b|\[\s*\]|\{\s*\})/.test(init)) {
      found.push(`${i + 1}: top-level mutable collection`);
    }
  }
  return found;
}

/** The module specifiers one file imports or re-exports, `import type` and `export type` included. */
export function importSpecifiers(source: string): string[] {
  const text = stripComments(source);
  const specifiers = new Set<string>();
  // `import … from '…'`, `import type … from '…'`, `export … from '…'` (possibly multi-line: the
  // statement ends at its first `;`, which Biome always writes), and `import '…'`.
  for (const m of text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s*['"]([^'"]+)['"]/gm))
    specifiers.add(m[1]!);
  for (const m of text.matchAll(/^import\s*['"]([^'"]+)['"]/gm)) specifiers.add(m[1]!);
  // Dynamic imports anywhere.
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) specifiers.add(m[1]!);
  return [...specifiers];
}

/** file -> the files of the same tree it imports (relative specifiers only). */
export type ImportGraph = Map<string, string[]>;

export function importGraph(
  files: string[],
  read: (file: string) => string = (f) => readFileSync(f, 'utf8'),
) {
  const graph: ImportGraph = new Map();
  const known = new Set(files);
  for (const file of files) {
    const targets = importSpecifiers(read(file))
      .filter((s) => s.startsWith('.'))
      .map((s) => path.resolve(path.dirname(file), s))
      .filter((target) => known.has(target));
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/**
 * The import cycles of a graph: each strongly connected component of more than one file, and
 * each file that imports itself (Tarjan's algorithm).
 */
export function importCycles(graph: ImportGraph): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

/** Folders of packages/core/src that are shared plumbing, not areas: they import no area. */
export const INFRASTRUCTURE = new Set([
  'auth',
  'batch',
  'db',
  'process',
  'queue',
  'redis',
]) as ReadonlySet<string>;

/**
 * The layer rules of packages/core, over an import graph keyed by paths relative to `src`
 * (`coupon/coupon.store.ts`); returns each broken rule as "from -> to: rule".
 * 1. A store or a repository never imports a service (they are the layer services stand on).
 * 2. An area uses another area only through that area's `*.service.ts` (`bin/` counts as an
 *    area: the tools are entry points, as the apps are).
 * 3. Infrastructure folders and root files import no area, except the composition root
 *    (`runtime.ts`, which builds the areas), `resources.ts` (the areas' `*.state.ts` types it
 *    lists) and the public surface (`index.ts`).
 * 4. The public surface (`index.ts`) exports no store and no repository.
 */
export function layerViolations(graph: Map<string, string[]>): string[] {
  const found: string[] = [];
  const areaOf = (file: string) => {
    const [top, ...rest] = file.split('/');
    return rest.length === 0 || INFRASTRUCTURE.has(top!) ? undefined : top;
  };
  const role = (file: string) => /\.(service|store|repository|state)\.ts$/.exec(file)?.[1];
  for (const [from, targets] of graph) {
    for (const to of targets) {
      const edge = `${from} -> ${to}`;
      if ((role(from) === 'store' || role(from) === 'repository') && role(to) === 'service') {
        found.push(`${edge}: a ${role(from)} imports a service`);
      }
      const source = areaOf(from);
      const target = areaOf(to);
      if (target === undefined || source === target) continue;
      if (source !== undefined) {
        if (role(to) !== 'service') found.push(`${edge}: another area is used only through its service`);
      } else if (from === 'resources.ts') {
        if (role(to) !== 'state') found.push(`${edge}: resources.ts lists the areas' state types only`);
      } else if (from === 'index.ts') {
        if (role(to) === 'store' || role(to) === 'repository') {
          found.push(`${edge}: the public surface exports no ${role(to)}`);
        }
      } else if (from !== 'runtime.ts') {
        found.push(`${edge}: infrastructure and root files import no area`);
      }
    }
  }
  return found;
}
