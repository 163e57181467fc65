// `pnpm start`: applies migrations, then runs the API and the worker side by side. Ctrl-C /
// SIGTERM stops both gracefully; if either dies, the other is stopped.
//
// Every service writes pino's JSON lines. When stdout is not a terminal (a supervisor, a log
// collector, a file) the children write straight to it, untouched; in a terminal their lines
// are made readable (scripts/pretty-log.ts).
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { createLogger } from '@flash/core';
import { prettyLine } from './pretty-log.ts';

const root = path.resolve(import.meta.dirname, '..');
const pretty = process.stdout.isTTY === true;
const log = createLogger('start');

function run(script: string): ChildProcess {
  const child = spawn(process.execPath, [path.join(root, script)], {
    stdio: ['ignore', pretty ? 'pipe' : 'inherit', 'inherit'],
    env: process.env,
  });
  if (pretty) {
    createInterface({ input: child.stdout!, crlfDelay: Infinity }).on('line', (line) =>
      process.stdout.write(`${prettyLine(line, true)}\n`),
    );
  }
  return child;
}

function runToEnd(script: string): Promise<number> {
  return new Promise((resolve) => run(script).on('exit', (code) => resolve(code ?? 1)));
}

async function main(): Promise<void> {
  // migrate says itself what went wrong; a failure only sets the exit code.
  const migrated = await runToEnd('packages/core/src/bin/migrate.ts');
  if (migrated !== 0) process.exit(migrated);
  const children = [run('apps/api/src/main.ts'), run('apps/worker/src/main.ts')];
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    for (const c of children) if (c.exitCode === null) c.kill(signal);
  };
  process.on('SIGINT', () => stop('SIGTERM'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  const codes = await Promise.all(
    children.map(
      (c) =>
        new Promise<number>((resolve) =>
          c.on('exit', (code) => {
            stop('SIGTERM');
            resolve(code ?? 1);
          }),
        ),
    ),
  );
  process.exit(stopping && codes.every((c) => c === 0) ? 0 : Math.max(...codes, 1));
}

main().catch((err: unknown) => {
  log.fatal({ err }, 'pnpm start failed');
  process.exit(1);
});
