// CPU-only microbenchmarks of single mechanisms, two variants alternated in one process (20
// rounds each), for the mechanisms whose cost is pure JavaScript and so shows through a busy
// machine better than a whole-server run. Prints µs per operation, median and range per variant.
//   pnpm exec node loadtests/bench/ab/micro.ts hs256 noble=/tmp/ab/base hmac=/tmp/ab/hmac
//   pnpm exec node loadtests/bench/ab/micro.ts metrics hand=/tmp/ab/base prom=/tmp/ab/prom
//   pnpm exec node loadtests/bench/ab/micro.ts refusal toggled=/tmp/ab/base plain=/tmp/ab/stack
//   pnpm exec node loadtests/bench/ab/micro.ts chain /work/wt/i23-mech   (tRPC's chain vs the direct call)
// Trees are laid out by tree.sh. `chain` runs one tree's fixture fast mutation both ways.
import path from 'node:path';
import { mintToken } from '../../lib/token.ts';

const ROUNDS = 20;
const [what, ...specs] = process.argv.slice(2);
const variants = specs.map((spec) => {
  const [name, dir] = spec.includes('=') ? spec.split('=') : [spec, spec];
  return { name: name!, tree: path.resolve(dir!) };
});
const load = (tree: string, file: string) => import(path.join(tree, file));
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
const SECRET = 'micro-benchmark-secret-0123456789abcdef';
const tokens = Array.from({ length: 20_000 }, (_, i) => mintToken(SECRET, 1000 + i));

/** Alternates the variants' operation `perRound` times a round; µs per operation. */
async function alternate(ops: { name: string; run: (i: number) => unknown }[], perRound: number) {
  const seen = new Map<string, number[]>(ops.map((o) => [o.name, []]));
  for (let round = 0; round < ROUNDS + 2; round++) {
    for (const op of round % 2 ? [...ops].reverse() : ops) {
      const started = process.cpuUsage();
      for (let i = 0; i < perRound; i++) {
        const out = op.run(i);
        if (out instanceof Promise) await out;
      }
      const spent = process.cpuUsage(started);
      // The first two rounds warm the JIT up.
      if (round >= 2) seen.get(op.name)!.push((spent.user + spent.system) / perRound);
    }
  }
  const base = median(seen.get(ops[0]!.name)!);
  for (const [name, values] of seen) {
    const m = median(values);
    console.log(
      `${what}\t${name}\t${m.toFixed(2)} µs\t(range ${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)})\t${(m - base).toFixed(2)} µs vs ${ops[0]!.name}`,
    );
  }
}

if (what === 'hs256') {
  const ops = [];
  for (const v of variants) {
    const { createHs256 } = await load(v.tree, 'packages/core/src/auth/hs256.ts');
    const tag = createHs256(Buffer.from(SECRET, 'utf8'));
    ops.push({
      name: v.name,
      run: (i: number) => tag(tokens[i % tokens.length]!.slice(0, tokens[0]!.lastIndexOf('.'))),
    });
  }
  await alternate(ops, 20_000);
} else if (what === 'metrics') {
  const ops = [];
  for (const v of variants) {
    const { recordProcedure } = await load(v.tree, 'apps/api/src/trpc/metrics.ts');
    const rt = {};
    const ok = { ok: true, data: { couponId: 7 } };
    ops.push({ name: v.name, run: () => recordProcedure(rt, 'coupon.issue', ok, performance.now()) });
  }
  await alternate(ops, 50_000);
} else if (what === 'refusal') {
  // A domain refusal as the direct call builds it: the AppError and its mapped TRPCError.
  const ops = [];
  for (const v of variants) {
    const { AppError } = await load(v.tree, 'packages/core/src/errors.ts');
    const { toTRPCError } = await load(v.tree, 'apps/api/src/trpc/init.ts');
    // Thrown 12 frames deep, past V8's default stackTraceLimit of 10, as in the server.
    const refuse = async (depth: number): Promise<never> => {
      if (depth > 0) return refuse(depth - 1);
      throw new AppError('COUPON_SOLD_OUT', 'Coupon 7 is sold out', { couponId: 7 });
    };
    ops.push({ name: v.name, run: () => refuse(12).catch(toTRPCError) });
  }
  await alternate(ops, 20_000);
} else if (what === 'chain') {
  const tree = variants[0]!.tree;
  const { createTokenVerifier } = await load(tree, 'packages/core/src/index.ts');
  const { fixtureRouter } = await load(tree, 'apps/api/test/adapter-fixture.ts');
  const { collectDirectCalls } = await load(tree, 'apps/api/src/trpc/fast-path.ts');
  const procedure = fixtureRouter._def.procedures.fastAdd;
  const direct = collectDirectCalls(fixtureRouter._def.procedures).fastAdd;
  const tokenVerifier = createTokenVerifier(SECRET);
  const rt = {};
  const ctxFor = (i: number) => ({
    rt,
    tokens: tokenVerifier,
    authorization: `Bearer ${tokens[i % tokens.length]}`,
    requestId: 'r',
    ip: '127.0.0.1',
    log: console,
  });
  const raw = { a: 1, b: 2 };
  await alternate(
    [
      {
        name: 'tRPC chain',
        run: (i: number) =>
          procedure({
            ctx: ctxFor(i),
            path: 'fastAdd',
            getRawInput: async () => raw,
            type: 'mutation',
            signal: undefined,
            batchIndex: 0,
          }),
      },
      {
        name: 'direct call',
        run: (i: number) => direct({ ctx: ctxFor(i), path: 'fastAdd', getRawInput: () => raw }),
      },
    ],
    20_000,
  );
} else {
  throw new Error('usage: micro.ts hs256|metrics|refusal|chain name=tree ...');
}
