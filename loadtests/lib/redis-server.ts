// A Redis of the run's own (redis-server on a free loopback port, no persistence), for runs that
// measure Redis itself: its INFO commandstats, memory and CPU then count this run alone, not
// every other user of the machine's shared Redis.
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { startChild } from './children.ts';

/** Whether a redis-server binary is on PATH (REDIS_SERVER_BIN overrides). */
export function redisServerBin(): string | undefined {
  const bin = process.env.REDIS_SERVER_BIN || 'redis-server';
  return spawnSync(bin, ['--version']).status === 0 ? bin : undefined;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startRedisServer(bin: string) {
  const port = await freePort();
  const child = await startChild('redis-server', bin, {
    env: process.env,
    args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    ready: /Ready to accept connections/,
    direct: true,
  });
  return { ...child, url: `redis://127.0.0.1:${port}` };
}
