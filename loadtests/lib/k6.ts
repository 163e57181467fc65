// Finding and running a k6 binary the operator installed (this project never installs one).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

/** K6_BIN if set, else `k6` on PATH; undefined when there is none. */
export function resolveK6(): string | undefined {
  const fromEnv = process.env.K6_BIN;
  if (fromEnv) return fromEnv;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'k6');
    if (dir && existsSync(candidate)) {
      const probe = spawnSync(candidate, ['version'], { encoding: 'utf8' });
      if (probe.status === 0) return candidate;
    }
  }
  return undefined;
}

/** Runs one k6 script with `-e` variables; resolves with k6's exit code (thresholds fail it). */
export function runK6(k6: string, script: string, vars: Record<string, string | number>): Promise<number> {
  const args = ['run', ...Object.entries(vars).flatMap(([k, v]) => ['-e', `${k}=${v}`]), script];
  return new Promise((resolve, reject) => {
    const child = spawn(k6, args, { stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code) => resolve(code ?? 1));
  });
}
