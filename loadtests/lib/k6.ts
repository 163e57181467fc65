// A k6 binary the operator installed (this project never installs one, see install.ts).
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';

/** K6_BIN if set, else a working `k6` on PATH. */
export function resolveK6(): string | undefined {
  if (process.env.K6_BIN) return process.env.K6_BIN;
  return (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter(Boolean)
    .map((dir) => path.join(dir, 'k6'))
    .find((bin) => spawnSync(bin, ['version']).status === 0);
}

/** Runs a k6 script with `-e` variables; k6's exit code (failed thresholds fail it). */
export function runK6(k6: string, script: string, vars: Record<string, string | number>): Promise<number> {
  const args = ['run', ...Object.entries(vars).flatMap(([k, v]) => ['-e', `${k}=${v}`]), script];
  return new Promise((resolve, reject) => {
    const child = spawn(k6, args, { stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code) => resolve(code ?? 1));
  });
}
