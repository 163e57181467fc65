// A separate TypeScript client (Vite's usual tsconfig, apps/web's kind) imports AppRouter from
// @flash/api: it must type-check against the emitted declarations alone, with zero errors, and
// still reject a wrong input type.
import { spawnSync } from 'node:child_process';
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
    expect(ours.some((f) => f.endsWith(`${path.join('apps', 'api', 'dist', 'types', 'index.d.ts')}`))).toBe(
      true,
    );
    expect(ours.filter((f) => !f.endsWith('.d.ts'))).toEqual([]);
  });

  it('a wrong input type is a compile error', () => {
    const result = runTsc('-p', 'tsconfig.wrong-input.json');
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(
      /wrong-input\.ts\(7,\d+\): error TS2322: Type 'string' is not assignable to type 'number'/,
    );
  });
});
