// Child processes for tests and load tests: the real API and worker the way `pnpm start` runs
// them (so tests can SIGKILL them at any moment and start them again), the bench's own servers,
// the `pnpm <command>` scripts, and the CPU time they spend (from /proc).
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '..');

export type Child = {
  name: string;
  process: ChildProcess;
  /** Everything the child printed (the last megabyte or more of it). */
  output: () => string;
  /** Sends `signal` (SIGKILL unless told) and waits until the child has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGTERM (graceful: in-flight work finishes, --cpu-prof profiles are written), SIGKILL after 15 s. */
  stop(): Promise<void>;
};

const OUTPUT_KEPT = 1 << 20;

/** Spawns `command` and keeps its output; no waiting. */
function spawnChild(name: string, command: string, argv: string[], env: NodeJS.ProcessEnv): Child {
  const child = spawn(command, argv, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const append = (chunk: Buffer) => {
    output += chunk;
    // Bounded, trimmed seldom: a chatty child must not grow the runner's memory or CPU.
    if (output.length > 2 * OUTPUT_KEPT) output = output.slice(-OUTPUT_KEPT);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const done = () => child.exitCode !== null || child.signalCode !== null;
  return {
    name,
    process: child,
    output: () => output,
    async kill(signal = 'SIGKILL') {
      if (done()) return;
      child.kill(signal);
      await exited;
    },
    async stop() {
      if (done()) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

/** The real API or worker (`apps/<entry>/src/main.ts`), not waiting for it to be ready. */
export function startChild(entry: 'api' | 'worker', env: NodeJS.ProcessEnv, nodeArgs: string[] = []): Child {
  const script = path.join(ROOT, 'apps', entry, 'src', 'main.ts');
  return spawnChild(entry, process.execPath, [...nodeArgs, script], env);
}

/**
 * Resolves with the first group of `pattern` once the child's output matches it. A child that
 * exits first, or takes longer than `timeoutMs`, is killed and the promise rejects with its
 * output, so a failed start leaves no process behind.
 */
async function whenReady(child: Child, pattern: RegExp, timeoutMs: number): Promise<string> {
  try {
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${child.name} did not start within ${timeoutMs} ms:\n${child.output()}`)),
        timeoutMs,
      );
      const check = () => {
        const found = pattern.exec(child.output());
        if (!found) return;
        clearTimeout(timer);
        child.process.stdout!.off('data', check);
        resolve(found[1] ?? found[0]);
      };
      child.process.stdout!.on('data', check);
      child.process.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${child.name} exited with ${code} before it was ready:\n${child.output()}`));
      });
    });
  } catch (err) {
    await child.kill();
    throw err;
  }
}

const LISTENING = /listening on (http:\/\/[\d.:[\]]+)/;

/**
 * The API on a free port; resolves with its base URL once every copy (API_PROCESSES) listens.
 * `options` is Node flags for it (`--cpu-prof`) or a time limit other than the default, which is
 * generous: a loaded machine can take many seconds to boot node and the app.
 */
export async function startApi(
  env: NodeJS.ProcessEnv,
  options?: string[] | number,
): Promise<Child & { url: string }> {
  const nodeArgs = Array.isArray(options) ? options : [];
  const timeoutMs = typeof options === 'number' ? options : 120_000;
  const child = startChild('api', { ...env, PORT: '0', HOST: '127.0.0.1' }, nodeArgs);
  const url = await whenReady(child, LISTENING, timeoutMs);
  const copies = Number(env.API_PROCESSES) || 1;
  for (const deadline = Date.now() + timeoutMs; countListening(child) < copies; ) {
    if (Date.now() > deadline) {
      await child.kill();
      throw new Error(`not every API process started:\n${child.output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { ...child, url };
}

const countListening = (child: Child) => child.output().match(/listening on/g)?.length ?? 0;

/** The worker, once it drains its queues. */
export async function startWorker(env: NodeJS.ProcessEnv, nodeArgs?: string[]): Promise<Child> {
  const child = startChild('worker', env, nodeArgs);
  await whenReady(child, /worker draining/, 30_000);
  return child;
}

/** Any program (redis-server), once a line of its output matches `ready` (its first group returned). */
export async function startProcess(
  name: string,
  command: string,
  argv: string[],
  options: { env: NodeJS.ProcessEnv; ready: RegExp; timeoutMs?: number },
): Promise<Child & { match: string }> {
  const child = spawnChild(name, command, argv, options.env);
  return { ...child, match: await whenReady(child, options.ready, options.timeoutMs ?? 30_000) };
}

/** A bench server script that prints `listening on <url>` once ready, on a free port. */
export async function startServer(
  name: string,
  script: string,
  options: { env: NodeJS.ProcessEnv; args?: string[]; nodeArgs?: string[] },
): Promise<Child & { url: string }> {
  const argv = [...(options.nodeArgs ?? []), path.resolve(ROOT, script), ...(options.args ?? [])];
  const env = { ...options.env, PORT: '0', HOST: '127.0.0.1' };
  const child = await startProcess(name, process.execPath, argv, { env, ready: LISTENING });
  return { ...child, url: child.match };
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
export async function runBin(script: string, env: NodeJS.ProcessEnv, args: string[] = []): Promise<string> {
  const child = spawnChild(
    script,
    process.execPath,
    [path.join(ROOT, 'packages/core/src/bin', script), ...args],
    env,
  );
  const code = await new Promise<number | null>((resolve) => child.process.once('close', resolve));
  if (code !== 0) throw new Error(`${script} exit ${code}: ${child.output()}`);
  return child.output();
}

/** USER_HZ, the unit of CPU time in /proc: 100 on every Linux this runs on (sysconf(_SC_CLK_TCK)). */
const CLOCK_TICKS = 100;

/** User and system CPU time of a process so far, in ms (NaN when it cannot be read). */
export function cpuTimesMs(pid: number | undefined): { user: number; system: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at state, field 3; utime
    // and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return {
      user: (Number(fields[11]) * 1000) / CLOCK_TICKS,
      system: (Number(fields[12]) * 1000) / CLOCK_TICKS,
    };
  } catch {
    return { user: Number.NaN, system: Number.NaN };
  }
}

/**
 * CPU time (user + system, all threads) a process has used so far, in ms. Server CPU per
 * request is steadier than req/s on a shared machine, and says where a ratio comes from.
 */
export function cpuTimeMs(pid: number | undefined): number {
  const { user, system } = cpuTimesMs(pid);
  return user + system;
}

/** The same for a process and every process under it (the copies API_PROCESSES forks). */
export function treeCpuTimeMs(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  let total = cpuTimeMs(pid);
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      for (const child of readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(/\s+/)) {
        if (child) total += treeCpuTimeMs(Number(child));
      }
    }
  } catch {}
  return total;
}

/**
 * CPU time so far of every Postgres process on the machine, by pid. Postgres runs a process per
 * connection, so a row's share is the sum of the differences between two snapshots.
 */
export function postgresCpuMs(): Map<number, number> {
  const byPid = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'postgres') continue;
    } catch {
      continue;
    }
    const ms = cpuTimeMs(pid);
    if (Number.isFinite(ms)) byPid.set(pid, ms);
  }
  return byPid;
}

/** Postgres CPU in ms since `before` (a process that ended in between is not counted). */
export function postgresCpuSinceMs(before: Map<number, number>): number {
  let total = 0;
  for (const [pid, ms] of postgresCpuMs()) total += ms - (before.get(pid) ?? 0);
  return total;
}
