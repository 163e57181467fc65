import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  importCycles,
  importGraph,
  importSpecifiers,
  moduleStateViolations,
  sourceFiles,
} from './source-rules.ts';

const CORE_SRC = path.resolve(import.meta.dirname, '../src');
const relative = (file: string) => path.relative(CORE_SRC, file);

describe('module-level state in packages/core', () => {
  it('none: caches, batchers and work in flight belong to what the composition root builds', () => {
    const violations = sourceFiles(CORE_SRC).flatMap((file) =>
      moduleStateViolations(readSource(file)).map((v) => `${relative(file)}:${v}`),
    );
    expect(violations).toEqual([]);
  });

  it('the rule catches each kind of module-level state (planted violations)', () => {
    expect(moduleStateViolations('let cache: Map<number, string> | undefined;')).toEqual([
      '1: top-level let',
    ]);
    expect(moduleStateViolations('export let hits = 0;')).toEqual(['1: top-level let']);
    expect(moduleStateViolations('var n = 1;')).toEqual(['1: top-level var']);
    expect(moduleStateViolations('const cache = new Map<number, string>();')).toEqual([
      '1: top-level mutable collection',
    ]);
    expect(moduleStateViolations('export const seen = new Set<string>();')).toHaveLength(1);
    expect(moduleStateViolations('const byConn = new WeakMap<object, number>();')).toHaveLength(1);
    expect(moduleStateViolations('const queue: string[] = [];')).toHaveLength(1);
    expect(moduleStateViolations('const memo: Record<string, number> = {};')).toHaveLength(1);
    expect(moduleStateViolations('const x: Map<number, number> = new Map();')).toHaveLength(1);
    expect(moduleStateViolations("import { perRuntimeMap } from '../per-runtime.ts';")).toEqual([
      '1: perRuntimeMap',
    ]);
  });

  it('leaves alone what cannot change, and state inside functions', () => {
    const fine = [
      "const CODES: ReadonlySet<string> = new Set(['A', 'B']);",
      'const LIMITS: readonly number[] = [1, 2];',
      'const TABLE = { a: 1 } as const;',
      'const MAX = 10;',
      'export function make() {',
      '  const cache = new Map<number, number>();',
      '  let n = 0;',
      '  return { cache, n };',
      '}',
      '// let commented = 1;',
      '/* const old = new Map(); */',
    ].join('\n');
    expect(moduleStateViolations(fine)).toEqual([]);
  });
});

describe('import cycles in packages/core', () => {
  it('none, counting `import type`', () => {
    const cycles = importCycles(importGraph(sourceFiles(CORE_SRC))).map((c) => c.map(relative));
    expect(cycles).toEqual([]);
  });

  it('reads every form of import, type-only and multi-line included', () => {
    const source = [
      "import type { A } from './a.ts';",
      "import { type B, c } from './b.ts';",
      'import {',
      '  d,',
      '  e,',
      "} from './d.ts';",
      "export { f } from './f.ts';",
      "export type * from './g.ts';",
      "import './side-effect.ts';",
      "const lazy = () => import('./lazy.ts');",
      "// import { no } from './commented.ts';",
      "const text = 'not an import from here';",
    ].join('\n');
    expect(importSpecifiers(source).sort()).toEqual(
      ['./a.ts', './b.ts', './d.ts', './f.ts', './g.ts', './lazy.ts', './side-effect.ts'].sort(),
    );
  });

  it('finds a planted cycle, also when one edge is `import type`', () => {
    const files = {
      '/src/runtime.ts': "import { createBatcher } from './pay/pay.batch.ts';",
      '/src/pay/pay.batch.ts': "import { pay } from './pay.service.ts';",
      '/src/pay/pay.service.ts': "import type { Runtime } from '../runtime.ts';",
      '/src/leaf.ts': "import type { Runtime } from './runtime.ts';",
      '/src/self.ts': "import { x } from './self.ts';",
    };
    const graph = importGraph(Object.keys(files), (f) => files[f as keyof typeof files]);
    expect(importCycles(graph)).toEqual(
      expect.arrayContaining([
        ['/src/pay/pay.batch.ts', '/src/pay/pay.service.ts', '/src/runtime.ts'],
        ['/src/self.ts'],
      ]),
    );
    expect(importCycles(graph)).toHaveLength(2);
  });
});

function readSource(file: string): string {
  return readFileSync(file, 'utf8');
}
