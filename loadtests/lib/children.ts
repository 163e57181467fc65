// Starts the service's processes (and the bench's own servers) as children, the way
// `pnpm start` runs them, and stops them again. Output is kept for error messages only.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');

export type Child = {
  name: string;
  process: ChildProcess;
  output(): string;
  /** SIGTERM (graceful: in-flight work finishes, --cpu-prof profiles are written), then waits. */
  stop(): Promise<void>;
};

export type StartOptions = {
  env: NodeJS.ProcessEnv;
  /** Extra Node flags, e.g. `--cpu-prof` for profiling. */
  nodeArgs?: string[];
  /** Arguments for the script. */
  args?: string[];
  /** Resolves once a line of output matches; its first group is returned. */
  ready: RegExp;
  timeoutMs?: number;
  /** `script` is an executable to run itself (redis-server), not a script for this Node. */
  direct?: boolean;
};

export async function startChild(
  name: string,
  script: string,
  options: StartOptions,
): Promise<Child & { match: string }> {
  const [command, argv] = options.direct
    ? [script, options.args ?? []]
    : [process.execPath, [...(options.nodeArgs ?? []), path.resolve(ROOT, script), ...(options.args ?? [])]];
  const child = spawn(command, argv, {
    cwd: ROOT,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const append = (chunk: Buffer) => {
    // Bounded: a chatty child must not grow the runner's memory during a long run.
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const match = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} did not start within ${options.timeoutMs ?? 30_000} ms:\n${output}`)),
      options.timeoutMs ?? 30_000,
    );
    const check = () => {
      const found = options.ready.exec(output);
      if (found) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve(found[1] ?? found[0]);
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before it was ready:\n${output}`));
    });
  });

  return {
    name,
    process: child,
    match,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

const LISTENING = /listening on (http:\/\/[\d.:[\]]+)/;

/** The real API (`apps/api/src/main.ts`) on a free port; resolves with its base URL. */
export async function startApi(
  env: NodeJS.ProcessEnv,
  nodeArgs?: string[],
): Promise<Child & { url: string }> {
  const child = await startChild('api', 'apps/api/src/main.ts', {
    env: { ...env, PORT: '0', HOST: '127.0.0.1' },
    nodeArgs,
    ready: LISTENING,
    timeoutMs: 120_000,
  });
  // With API_PROCESSES > 1 every copy says it listens: measure once all of them do.
  const copies = Number(env.API_PROCESSES) || 1;
  const deadline = Date.now() + 120_000;
  while ((child.output().match(/listening on/g)?.length ?? 0) < copies) {
    if (Date.now() > deadline) throw new Error(`not every API process started:\n${child.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { ...child, url: child.match };
}

/** The real worker (`apps/worker/src/main.ts`). */
export async function startWorker(env: NodeJS.ProcessEnv, nodeArgs?: string[]): Promise<Child> {
  return startChild('worker', 'apps/worker/src/main.ts', { env, nodeArgs, ready: /worker draining/ });
}

/** A bench server script that prints `listening on <url>` once ready. */
export async function startServer(
  name: string,
  script: string,
  options: { env: NodeJS.ProcessEnv; args?: string[]; nodeArgs?: string[] },
): Promise<Child & { url: string }> {
  const child = await startChild(name, script, {
    ...options,
    env: { ...options.env, PORT: '0', HOST: '127.0.0.1' },
    ready: LISTENING,
  });
  return { ...child, url: child.match };
}

/**
 * CPU time (user + system, all threads) a process has used so far, in ms, from /proc. Server CPU
 * per request is steadier than req/s on a shared machine, and says where a ratio comes from.
 */
export function cpuTimeMs(pid: number | undefined): number {
  const { user, system } = cpuTimesMs(pid);
  return user + system;
}

/**
 * CPU time so far of a process and every process under it, in ms: an API running several
 * processes (API_PROCESSES) spends its CPU in the copies its supervisor forked.
 */
export function treeCpuTimeMs(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  let total = cpuTimeMs(pid);
  for (const child of childPids(pid)) total += treeCpuTimeMs(child);
  return total;
}

function childPids(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((task) =>
      readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map(Number),
    );
  } catch {
    return [];
  }
}

/** User and system CPU time of a process so far, in ms (NaN when it cannot be read). */
export function cpuTimesMs(pid: number | undefined): { user: number; system: number } {
  if (pid === undefined) return { user: Number.NaN, system: Number.NaN };
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at state, field 3.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of /proc/<pid>/stat.
    return {
      user: (Number(fields[11]) * 1000) / CLOCK_TICKS,
      system: (Number(fields[12]) * 1000) / CLOCK_TICKS,
    };
  } catch {
    return { user: Number.NaN, system: Number.NaN };
  }
}

/**
 * CPU time so far of every Postgres process on the machine (postmaster, backends, WAL writer,
 * checkpointer), by pid. Postgres runs a process per connection, so a row's share is the sum
 * of the differences between two snapshots (see postgresCpuSinceMs).
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

/** USER_HZ, the unit of CPU time in /proc: 100 on every Linux this runs on (sysconf(_SC_CLK_TCK)). */
export const CLOCK_TICKS = 100;
