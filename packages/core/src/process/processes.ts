// Several copies of one service on one machine (API_PROCESSES, WORKER_PROCESSES): this process
// becomes a supervisor that forks `count` copies of its own entry script with Node's cluster
// module and does no other work. API copies share the one listening port: the supervisor
// accepts connections and hands them out round-robin (cluster's default on Linux); SO_REUSEPORT's
// kernel hash spread them no more evenly and is Linux-only (docs/scaling.md, section 4).
//
// Stopping: SIGTERM, SIGINT or SIGHUP to the supervisor, or its parent closing the IPC channel
// it was started with, sends SIGTERM to every copy (each stops gracefully as a single process
// does); whatever still runs SHUTDOWN_AFTER_MS later is killed. A copy that exits on its own
// stops the others and the supervisor exits non-zero, as `pnpm start` does when a service dies:
// restarting is the job of whatever runs the service (Docker, systemd, Kubernetes). If the
// supervisor itself is killed, the copies lose their IPC channel and cluster ends them.
import cluster, { type Worker } from 'node:cluster';

export const SHUTDOWN_AFTER_MS = 15_000;

export type Supervisor = {
  /** Every live copy. */
  workers(): Worker[];
  /** Resolves with the exit code once every copy exited. */
  exited: Promise<number>;
};

/**
 * In a process that should do the work (count 1, or a forked copy): undefined. Otherwise forks
 * the copies and returns the supervisor; the caller then does nothing else.
 */
export function superviseCopies(name: string, count: number): Supervisor | undefined {
  if (count <= 1 || !cluster.isPrimary) return undefined;
  const log = (line: string) =>
    console.log(JSON.stringify({ level: 30, time: Date.now(), pid: process.pid, name, msg: line }));
  const forked = Array.from({ length: count }, () => cluster.fork());
  let stopping = false;
  let code = 0;
  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    log(`stopping ${count} ${name} processes (${reason})`);
    for (const w of forked) if (!w.isDead()) w.process.kill('SIGTERM');
    setTimeout(() => {
      for (const w of forked) if (!w.isDead()) w.process.kill('SIGKILL');
    }, SHUTDOWN_AFTER_MS).unref();
  };
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => stop(signal));
  if (process.channel) process.once('disconnect', () => stop('parent gone'));
  const exited = new Promise<number>((resolve) => {
    cluster.on('exit', (worker, exitCode, signal) => {
      if (!stopping) {
        code = 1;
        stop(`${name} process ${worker.process.pid} exited (${signal ?? exitCode})`);
      } else if (exitCode !== 0) code = Math.max(code, exitCode ?? 1);
      if (forked.every((w) => w.isDead())) resolve(code);
    });
  });
  log(`${name}: ${count} processes (${forked.map((w) => w.process.pid).join(', ')})`);
  return { workers: () => forked.filter((w) => !w.isDead()), exited };
}
