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

/**
 * Starts the API on a free port and resolves with its base URL once it listens. A start that
 * fails or takes too long kills the child, so a failed setup leaves no process behind. The
 * limit is generous: a loaded machine can take many seconds to boot node and load the app.
 */
export async function startApi(env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<Child & { url: string }> {
  const child = startChild('api', { ...env, PORT: '0', HOST: '127.0.0.1' });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`API did not start within ${timeoutMs} ms:\n${child.output()}`)),
        timeoutMs,
      );
      const check = () => {
        const match = /listening on (http:\/\/[\d.:]+)/.exec(child.output());
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      };
      child.process.stdout!.on('data', check);
      child.process.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`API exited with ${code}:\n${child.output()}`));
      });
    });
    return { ...child, url };
  } catch (err) {
    await child.kill();
    throw err;
  }
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

/** Runs one of the `pnpm <command>` scripts of packages/core/src/bin and returns its output. */
export function runBin(script: string, env: NodeJS.ProcessEnv, args: string[] = []): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, 'packages/core/src/bin', script), ...args], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
    });
    child.stderr.on('data', (c) => {
      out += c;
    });
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${script} exit ${code}: ${out}`)),
    );
  });
}
