// Attribution of CPU profile samples to procedures and queues, on a made-up profile, and the
// owners read from the real routers and worker folders.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { attribute, type Owner, procedureOwners, queueOwners } from './profile.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'flash-profile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const frame = (id: number, functionName: string, url: string, lineNumber = 0, children: number[] = []) => ({
  id,
  callFrame: { functionName, url, lineNumber },
  children,
});

describe('attribute', () => {
  const root = '/repo';
  const owners: Owner[] = [
    {
      name: 'order.create',
      files: ['apps/api/src/routers/order.ts'],
      lines: [41, 64],
      functions: new Set(['createOrder']),
    },
    {
      name: 'order.get',
      files: ['apps/api/src/routers/order.ts'],
      lines: [77, 81],
      functions: new Set(['getOrder']),
    },
  ];
  // (root) -> createOrder (core) -> pg submit; (root) -> router line 78 -> zod; (root) -> pg parse; idle; GC
  const profile = {
    nodes: [
      frame(1, '(root)', '', 0, [2, 4, 6, 7, 8]),
      frame(2, 'createOrder', `file://${root}/packages/core/src/order/order.service.ts`, 10, [3]),
      frame(3, 'submit', `file://${root}/node_modules/.pnpm/pg@8/node_modules/pg/lib/query.js`),
      frame(4, '', `file://${root}/apps/api/src/routers/order.ts`, 77, [5]),
      frame(5, 'parse', `file://${root}/node_modules/.pnpm/zod@4/node_modules/zod/index.js`),
      frame(
        6,
        'parseDataRow',
        `file://${root}/node_modules/.pnpm/pg-protocol@1/node_modules/pg-protocol/parser.js`,
      ),
      frame(7, '(idle)', ''),
      frame(8, '(garbage collector)', ''),
    ],
    samples: [3, 3, 5, 6, 6, 6, 7, 7, 8],
    timeDeltas: [1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000],
  };
  writeFileSync(path.join(dir, 'a.cpuprofile'), JSON.stringify(profile));

  it('gives each busy sample to the innermost owner on its stack, the rest to named buckets', () => {
    expect(attribute(dir, owners)).toEqual({
      busyMs: 7,
      byOwner: { 'order.create': 2, 'order.get': 1 },
      rest: { 'Postgres driver': 3, 'garbage collection': 1 },
    });
  });
});

describe('owners from the source', () => {
  const routers = path.join(dir, 'routers');
  const worker = path.join(dir, 'worker');
  mkdirSync(routers);
  mkdirSync(path.join(worker, 'order-persist'), { recursive: true });
  writeFileSync(
    path.join(routers, 'order.ts'),
    [
      "import { createOrder, getOrder, type Order } from '@flash/core/internal/order/order.service';",
      "import { z } from 'zod';",
      'const ZOrder = z.object({ id: z.string() });',
      'export const orderRouter = {',
      '  /** Not getOrder: a comment names no call. */',
      '  create: fastMutation({ resolve: ({ input }) => createOrder(input) }),',
      '  get: protectedProcedure',
      '    .query(({ input }) => getOrder(input)),',
      '} satisfies TRPCRouterRecord;',
    ].join('\n'),
  );
  writeFileSync(
    path.join(worker, 'order-persist', 'order-persist.worker.ts'),
    "import { QueueName } from '@flash/core';\nimport { drainUnsavedOrders } from '@flash/core/internal/order/order.persist';\n",
  );

  it("reads each router key's lines and the core functions it calls", () => {
    expect(procedureOwners(routers)).toEqual([
      {
        name: 'order.create',
        files: ['apps/api/src/routers/order.ts'],
        lines: [6, 6],
        functions: new Set(['createOrder']),
      },
      {
        name: 'order.get',
        files: ['apps/api/src/routers/order.ts'],
        lines: [7, 8],
        functions: new Set(['getOrder']),
      },
    ]);
  });

  it("reads each worker queue's folder, the core modules it imports and their functions", () => {
    expect(queueOwners(worker)).toEqual([
      {
        name: 'order-persist',
        files: ['apps/worker/src/order-persist/', 'packages/core/src/order/order.persist.ts'],
        functions: new Set(['drainUnsavedOrders']),
      },
    ]);
  });
});
