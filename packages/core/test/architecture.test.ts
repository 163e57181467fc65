import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  importCycles,
  importGraph,
  importSpecifiers,
  layerViolations,
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
    expect(moduleStateViolations("const LANES = Symbol('flash.replicaWaitLanes');")).toEqual([
      '1: top-level Symbol key',
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

describe('layers', () => {
  const relativeGraph = (graph: Map<string, string[]>) =>
    new Map([...graph].map(([from, to]) => [relative(from), to.map(relative)]));

  it('packages/core: stores and repositories below services, areas meet through services', () => {
    expect(layerViolations(relativeGraph(importGraph(sourceFiles(CORE_SRC))))).toEqual([]);
  });

  it('the rules catch each planted violation', () => {
    const graph = new Map([
      ['order/order.store.ts', ['rate-limit/rate-limit.service.ts', 'redis/scripts.ts']],
      ['order/order.repository.ts', ['order/order.service.ts']],
      ['order/order.service.ts', ['product/inventory.repository.ts', 'coupon/coupon.service.ts']],
      ['payment/payment.batch.ts', ['order/order.store.ts', 'order/order.service.ts']],
      ['bin/tool.ts', ['coupon/coupon.restore.ts', 'runtime.ts', 'config.ts']],
      ['redis/scripts.ts', ['coupon/coupon.service.ts']],
      ['logger.ts', ['order/order.service.ts']],
      ['index.ts', ['balance/balance.repository.ts', 'balance/balance.service.ts']],
      ['resources.ts', ['coupon/coupon.state.ts', 'coupon/coupon.cache.ts']],
      ['runtime.ts', ['payment/payment.batch.ts', 'order/order.persist.ts']],
    ]);
    expect(layerViolations(graph)).toEqual([
      'order/order.store.ts -> rate-limit/rate-limit.service.ts: a store imports a service',
      'order/order.repository.ts -> order/order.service.ts: a repository imports a service',
      'order/order.service.ts -> product/inventory.repository.ts: another area is used only through its service',
      'payment/payment.batch.ts -> order/order.store.ts: another area is used only through its service',
      'bin/tool.ts -> coupon/coupon.restore.ts: another area is used only through its service',
      'redis/scripts.ts -> coupon/coupon.service.ts: infrastructure and root files import no area',
      'logger.ts -> order/order.service.ts: infrastructure and root files import no area',
      'index.ts -> balance/balance.repository.ts: the public surface exports no repository',
      "resources.ts -> coupon/coupon.cache.ts: resources.ts lists the areas' state types only",
    ]);
  });

  it('apps/api and apps/worker import @flash/core through its public surface only', () => {
    const violations: string[] = [];
    for (const app of ['api', 'worker']) {
      const src = path.resolve(CORE_SRC, '../../../apps', app, 'src');
      for (const file of sourceFiles(src, { tests: true })) {
        for (const specifier of importSpecifiers(readSource(file))) {
          const deep = specifier.startsWith('@flash/core/');
          const intoCore =
            specifier.startsWith('.') &&
            path.resolve(path.dirname(file), specifier).startsWith(path.resolve(CORE_SRC, '..'));
          if (deep || intoCore) violations.push(`apps/${app}/src/${path.relative(src, file)}: ${specifier}`);
        }
      }
    }
    expect(violations).toEqual([]);
  });
});

function readSource(file: string): string {
  return readFileSync(file, 'utf8');
}
