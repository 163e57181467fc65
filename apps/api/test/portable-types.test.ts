// A separate TypeScript client (Vite's usual tsconfig, apps/web's kind) imports AppRouter from
// @flash/api: it must type-check against the emitted declarations alone, with zero errors, and
// still reject a wrong input type. The router type a client reads is the lean one (src/client.ts,
// ADR 0500): tRPC's types over plain data, so the client reads few files and no Node globals.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildTypes } from '../../../scripts/build-types.ts';

const root = path.resolve(import.meta.dirname, '../../..');
const fixture = path.join(import.meta.dirname, 'types-fixture');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');

function runTsc(...args: string[]): { status: number | null; output: string } {
  const result = spawnSync(process.execPath, [tsc, ...args], { cwd: fixture, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('portable router types', () => {
  beforeAll(async () => {
    await buildTypes();
  }, 120_000);

  it('a Vite-style client type-checks with zero errors', () => {
    const result = runTsc('-p', 'tsconfig.json');
    expect(result.output).toBe('');
    expect(result.status).toBe(0);
  });

  it('reads only declaration files of the server, never a source', () => {
    const result = runTsc('-p', 'tsconfig.json', '--listFilesOnly');
    expect(result.status).toBe(0);
    const files = result.output.split('\n').filter(Boolean);
    const ours = files.filter(
      (f) => !f.startsWith(fixture) && /[/\\](apps|packages)[/\\](api|core)[/\\]/.test(f),
    );
    expect(ours.some((f) => f.endsWith(`${path.join('apps', 'api', 'dist', 'types', 'client.d.ts')}`))).toBe(
      true,
    );
    expect(ours.filter((f) => !f.endsWith('.d.ts'))).toEqual([]);
  });

  it('reads at most 150 declaration files: tRPC, the lean router and the libs, no server packages', () => {
    const result = runTsc('-p', 'tsconfig.json', '--listFilesOnly');
    expect(result.status).toBe(0);
    const files = result.output.split('\n').filter(Boolean);
    expect(files.length).toBeGreaterThan(0);
    expect(files.length).toBeLessThanOrEqual(150);
    const packages = new Set(
      files.flatMap((f) => {
        const m =
          /node_modules[/\\](?:\.pnpm[/\\][^/\\]+[/\\]node_modules[/\\])?((?:@[^/\\]+[/\\])?[^/\\]+)/.exec(f);
        return m?.[1] ? [m[1].replace('\\', '/')] : [];
      }),
    );
    for (const server of ['kysely', 'ioredis', 'bullmq', 'fastify', '@types/node', 'zod', 'pg']) {
      expect(packages.has(server), `${server} is read by a client`).toBe(false);
    }
  });

  it('the client declarations import nothing but @trpc/server', () => {
    const declarations = readFileSync(path.join(root, 'apps/api/dist/types/client.d.ts'), 'utf8');
    const specifiers = new Set(
      [...declarations.matchAll(/(?:from\s+|import\()\s*['"]([^'"]+)['"]/g)].map((m) => m[1]),
    );
    expect([...specifiers]).toEqual(['@trpc/server']);
  });

  it("Node's globals stay unknown to a client that imports the router", () => {
    const result = runTsc('-p', 'tsconfig.node-globals.json');
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/node-globals\.ts\(7,\d+\): error TS25\d\d: Cannot find name 'process'/);
    expect(result.output).toMatch(/node-globals\.ts\(8,\d+\): error TS25\d\d: Cannot find name 'Buffer'/);
  });

  it('a wrong input type is a compile error', () => {
    const result = runTsc('-p', 'tsconfig.wrong-input.json');
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(
      /wrong-input\.ts\(7,\d+\): error TS2322: Type 'string' is not assignable to type 'number'/,
    );
  });
});
