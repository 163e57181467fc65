// `pnpm start`: applies migrations, then runs the API and the worker side by side with
// prefixed output. Ctrl-C / SIGTERM stops both gracefully; if either dies, the other is stopped.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const node = process.execPath;

function run(name: string, script: string): ChildProcess {
  const child = spawn(node, [path.join(root, script)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: process.env,
  });
  const prefix = `[${name}] `;
  const pipe = (from: NodeJS.ReadableStream, to: NodeJS.WritableStream) => {
    let buffered = '';
    from.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) to.write(`${prefix}${line}\n`);
    });
  };
  pipe(child.stdout!, process.stdout);
  pipe(child.stderr!, process.stderr);
  return child;
}

function runToEnd(name: string, script: string): Promise<void> {
  return new Promise((resolve, reject) => {
    run(name, script).on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${name} exited with ${code}`)),
    );
  });
}

async function main(): Promise<void> {
  await (await import('./build-web.ts')).ensureWebBuilt();
  await runToEnd('migrate', 'packages/core/src/bin/migrate.ts');
  const children = [run('api', 'apps/api/src/main.ts'), run('worker', 'apps/worker/src/main.ts')];
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
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
