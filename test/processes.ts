// Starts the real API or worker as a child process (the way `pnpm start` runs them), so tests
// can SIGKILL them at any moment and start them again.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');

export type Child = {
  process: ChildProcess;
  output: () => string;
  kill(signal?: NodeJS.Signals): Promise<void>;
};

export function startChild(entry: 'api' | 'worker', env: NodeJS.ProcessEnv): Child {
  const script = path.join(root, 'apps', entry, 'src', 'main.ts');
  const child = spawn(process.execPath, [script], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (c) => {
    output += c;
  });
  child.stderr!.on('data', (c) => {
    output += c;
  });
  return {
    process: child,
    output: () => output,
    kill: (signal = 'SIGKILL') =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill(signal);
      }),
  };
}

/** Starts the API on a free port and resolves with its base URL once it listens. */
export async function startApi(
  env: NodeJS.ProcessEnv,
  options: { timeoutMs?: number } = {},
): Promise<Child & { url: string }> {
  const child = startChild('api', { ...env, PORT: '0', HOST: '127.0.0.1' });
  const url = await new Promise<string>((resolve, reject) => {
    // A child that never came up is not left running behind the failed test.
    const timer = setTimeout(() => {
      reject(new Error(`API did not start:\n${child.output()}`));
      void child.kill();
    }, options.timeoutMs ?? 20_000);
    const check = () => {
      const match = /listening on (http:\/\/[\d.:]+)/.exec(child.output());
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.process.stdout!.on('data', check);
    child.process.once('exit', (code) => reject(new Error(`API exited with ${code}:\n${child.output()}`)));
  });
  return { ...child, url };
}

/** A minimal JSON client for the contract's wire format. */
export async function httpCall(
  url: string,
  kind: 'query' | 'mutation',
  procedure: string,
  input?: unknown,
  token?: string,
): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const res =
    kind === 'query'
      ? await fetch(
          `${url}/trpc/${procedure}${input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`}`,
          { headers },
        )
      : await fetch(`${url}/trpc/${procedure}`, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          body: JSON.stringify(input ?? {}),
        });
  return { status: res.status, body: await res.json() };
}
