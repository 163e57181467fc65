// `pnpm start`: applies migrations, then runs the API and the worker side by side.
//
// Stopping: SIGTERM, SIGINT or SIGHUP to this process, or its parent going away (pnpm itself
// killed: pnpm does not pass the signal on), stops both gracefully; whatever has not exited
// SHUTDOWN_TIMEOUT_MS later is killed. If either child dies, the other is stopped. If this
// process dies (even by SIGKILL), the children notice through their IPC channel and stop
// themselves (packages/core/src/shutdown.ts), so none outlives it.
//
// Logs: every service writes pino's JSON lines. When stdout is not a terminal (a supervisor, a
// log collector, a file) the children write straight to it, untouched; in a terminal their
// lines are made readable (scripts/pretty-log.ts).
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { checkStores, createLogger, exitOnStartupError, loadConfig, SHUTDOWN_TIMEOUT_MS } from '@flash/core';
import { ensureWebBuilt } from './build-web.ts';
import { prettyLine } from './pretty-log.ts';

const root = path.resolve(import.meta.dirname, '..');
const pretty = process.stdout.isTTY === true;
const log = pretty
  ? createLogger('start', 'info', {
      write: (line) => process.stdout.write(`${prettyLine(line.trimEnd(), true)}\n`),
    })
  : createLogger('start');
/** How often the parent is checked: pnpm offers no channel, so its death shows as a new ppid. */
const PARENT_CHECK_MS = 500;

function run(script: string, options: { watchParent: boolean }): ChildProcess {
  const child = spawn(process.execPath, [path.join(root, script)], {
    // The 'ipc' channel is how a long-running child learns that this process is gone.
    stdio: [
      'ignore',
      pretty ? 'pipe' : 'inherit',
      'inherit',
      ...(options.watchParent ? ['ipc' as const] : []),
    ],
    env: process.env,
  });
  if (pretty) {
    createInterface({ input: child.stdout!, crlfDelay: Infinity }).on('line', (line) =>
      process.stdout.write(`${prettyLine(line, true)}\n`),
    );
  }
  return child;
}

const exitCode = (child: ChildProcess) =>
  new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? 1)));

let stopRequested: string | undefined;
let onStop: (reason: string) => void = () => {};
const requestStop = (reason: string) => {
  if (stopRequested) return;
  stopRequested = reason;
  onStop(reason);
};

async function main(): Promise<number> {
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const)
    process.on(signal, () => requestStop(signal));
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) requestStop('parent process gone');
  }, PARENT_CHECK_MS).unref();

  // Once here, so a missing store is one line each rather than one from every child.
  try {
    await checkStores(loadConfig());
  } catch (err) {
    exitOnStartupError(log, err);
  }
  await ensureWebBuilt({ log });
  // Migrations are not interrupted; migrate reports its own failure.
  const migrated = await exitCode(run('packages/core/src/bin/migrate.ts', { watchParent: false }));
  if (migrated !== 0 || stopRequested) return migrated;

  const children = [
    run('apps/api/src/main.ts', { watchParent: true }),
    run('apps/worker/src/main.ts', { watchParent: true }),
  ];
  log.info({ api: children[0]!.pid, worker: children[1]!.pid }, 'started api and worker');
  const exits = children.map(exitCode);
  onStop = (reason) => {
    log.info({ reason }, `stopping api and worker (${reason})`);
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
    setTimeout(() => {
      for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    }, SHUTDOWN_TIMEOUT_MS + 1_000).unref();
  };
  if (stopRequested) onStop(stopRequested);
  // The first child to exit stops the other; a child that exits on its own makes this a failure.
  const first = await Promise.race(exits);
  const unexpected = !stopRequested;
  requestStop('a child exited');
  const codes = await Promise.all(exits);
  return unexpected ? first || 1 : Math.max(...codes);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log.fatal({ err }, 'pnpm start failed');
    process.exit(1);
  },
);
