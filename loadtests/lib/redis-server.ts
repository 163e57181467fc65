// A Redis of the run's own (redis-server on a free loopback port, no persistence), for runs that
// measure Redis itself: its INFO commandstats, memory and CPU then count this run alone, not
// every other user of the machine's shared Redis.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startProcess } from '../../test/processes.ts';

/** Whether a redis-server binary is on PATH (REDIS_SERVER_BIN overrides). */
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
 * The command line of a throw-away redis-server: loopback only, no persistence, files in `dir`
 * (a primary writes the RDB of a replica's first sync there, not into the working directory,
 * where the next server started would load it); with `replicaOf`, a replica of that port.
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
  // A replica's first sync starts at once, not after the default 5 s wait for more replicas.
  args.push('--repl-diskless-sync-delay', '0');
  if (replicaOf) args.push('--replicaof', '127.0.0.1', String(replicaOf));
  return args;
}

/**
 * With `replicaOf` (the port of a primary started here) the server is its replica; ready once
 * its first sync is done, so that WAIT on the primary can count it.
 */
export async function startRedisServer(bin: string, options: { replicaOf?: number } = {}) {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'flash-redis-'));
  const args = redisServerArgs(port, dir, options.replicaOf);
  const child = await startProcess('redis-server', bin, args, {
    env: process.env,
    ready: options.replicaOf
      ? /MASTER <-> REPLICA sync: Finished with success/
      : /Ready to accept connections/,
  });
  return { ...child, port, url: `redis://127.0.0.1:${port}` };
}
