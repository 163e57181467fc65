// A private, throw-away redis-server on a free loopback port: for tests that restart, flush or
// cut off Redis (the shared server on 6379 is never touched), and for load runs that measure
// Redis itself (its commands, memory and CPU are then the run's alone).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';

export type PrivateRedis = {
  url: string;
  port: number;
  /** The server process now (a restart starts another). */
  readonly pid: number | undefined;
  restartEmpty(): Promise<void>;
  stop(): Promise<void>;
};

/** The redis-server binary (REDIS_SERVER_BIN, else on PATH), if it runs. */
export function redisServerBin(): string | undefined {
  const bin = process.env.REDIS_SERVER_BIN || 'redis-server';
  return spawnSync(bin, ['--version']).status === 0 ? bin : undefined;
}

/** A loopback port nothing listens on now (bound, then released). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Loopback only, no persistence, files in `dir` (not the working directory, where the next
 * server would load a replica's sync file); with `replicaOf`, a replica of that port whose first
 * sync starts at once.
 */
function redisServerArgs(port: number, dir: string, replicaOf?: number): string[] {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  args.push('--dir', dir, '--repl-diskless-sync-delay', '0');
  if (replicaOf) args.push('--replicaof', '127.0.0.1', String(replicaOf));
  return args;
}

async function waitReady(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null });
    probe.on('error', () => {});
    try {
      await probe.connect();
      if ((await probe.ping()) === 'PONG') return;
    } catch {
      // not up yet
    } finally {
      probe.disconnect();
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server on ${port} did not start`);
}

/** Until the replica acknowledges a write on the primary ("online" may still be loading). */
async function waitReplicaOnline(primaryPort: number, replicaPort: number): Promise<void> {
  const primary = new Redis({ port: primaryPort, host: '127.0.0.1' });
  try {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      await primary.set('test:replica-probe', String(replicaPort));
      if ((await primary.wait(1, 100)) >= 1) return;
    }
    throw new Error(`replica on ${replicaPort} did not come online for ${primaryPort}`);
  } finally {
    primary.disconnect();
  }
}

/**
 * With `replicaOf` (a private primary's port) the server replicates it; it is ready once it
 * acknowledged a write on the primary (so WAIT 1 there can succeed).
 */
export async function startPrivateRedis(
  options: { replicaOf?: number; bin?: string } = {},
): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'redis-'));
  let child: ChildProcess | undefined;
  const start = async () => {
    const args = redisServerArgs(port, dir, options.replicaOf);
    child = spawn(options.bin ?? 'redis-server', args, { stdio: 'ignore' });
    await waitReady(port);
    if (options.replicaOf) await waitReplicaOnline(options.replicaOf, port);
  };
  const stop = async () => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGKILL');
    });
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid() {
      return child?.pid;
    },
    async restartEmpty() {
      await stop();
      await start();
    },
    async stop() {
      await stop();
      // The server wrote nothing worth keeping (no persistence); a CI machine runs this often.
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
