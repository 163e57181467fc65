// A throw-away redis-server on a free loopback port, for runs that measure Redis itself: its
// commands, memory and CPU are then the run's alone.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startProcess } from '../../test/processes.ts';

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
export function redisServerArgs(port: number, dir: string, replicaOf?: number): string[] {
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
  ];
  args.push('--repl-diskless-sync-delay', '0');
  if (replicaOf) args.push('--replicaof', '127.0.0.1', String(replicaOf));
  return args;
}

/** Ready once it accepts connections (a replica: once its first sync is done, so WAIT counts it). */
export async function startRedisServer(bin: string, options: { replicaOf?: number } = {}) {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'flash-redis-'));
  const child = await startProcess('redis-server', bin, redisServerArgs(port, dir, options.replicaOf), {
    env: process.env,
    ready: options.replicaOf
      ? /MASTER <-> REPLICA sync: Finished with success/
      : /Ready to accept connections/,
  });
  return { ...child, port, url: `redis://127.0.0.1:${port}` };
}
